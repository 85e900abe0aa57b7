// What the Python backend and its stub say about tensors: datatype names,
// tensor descriptions in JSON ({name, datatype, shape, offset, size}, the
// bytes lying at offset in a shared memory file), and the shared memory
// files themselves when one travels with a message (memfd).
//
// Every description the stub sends is checked against the memory it points
// into before a byte is read: a broken or hostile model.py cannot make the
// server read outside its mapping, nor crash it by shrinking the file (the
// server maps only files sealed against shrinking).
#pragma once

#include <inferd/backend.h>
#include <rapidjson/document.h>

#include <cstdint>
#include <string>
#include <vector>

namespace inferd_python {

const char* DataTypeName(InferdDataType type);
InferdDataType DataTypeFromName(const std::string& name);  // INVALID when unknown

// Triton's pb_utils.TritonError codes (UNKNOWN = 0 ... CANCELLED = 7) and ours.
InferdErrorCode ErrorCodeFromTriton(int64_t code);
int TritonCodeFromError(InferdErrorCode code);

// The string member `key` of an object, or "".
std::string JsonString(const rapidjson::Value& v, const char* key);
std::string JsonText(const rapidjson::Value& v);

// Offsets of tensors in shared memory start on this boundary.
constexpr uint64_t kTensorAlignment = 64;
inline uint64_t AlignUp(uint64_t n) { return (n + kTensorAlignment - 1) / kTensorAlignment * kTensorAlignment; }

// One tensor description checked against [0, limit): a known datatype, at
// most 64 non-negative dims, offset + size within the limit.
struct TensorRef {
  std::string name;
  InferdDataType datatype = INFERD_TYPE_INVALID;
  std::vector<int64_t> shape;
  uint64_t offset = 0;
  uint64_t size = 0;
};
// Whether `t` lies within [0, limit), with the reason when not.
bool TensorWithin(const TensorRef& t, uint64_t limit, std::string* error);
// False, with the reason, when `v` is not such a description.
bool ParseTensorRef(const rapidjson::Value& v, uint64_t limit, TensorRef* out, std::string* error);

// Adds the described outputs that `request` asked for to `response`, copying
// their bytes from base[0, limit). The first error is returned (the caller
// sends the response with it).
InferdError* AddOutputs(const InferdCoreApi* api, InferdRequest* request, InferdResponse* response,
                        const rapidjson::Value& outputs, const char* base, uint64_t limit);
// One output, already checked to lie within base's memory: added when
// `request` asked for it, else skipped.
InferdError* AddOutput(const InferdCoreApi* api, InferdRequest* request, InferdResponse* response,
                       const TensorRef& t, const char* base);

// Sets the response parameters a model gave (pb_utils.InferenceResponse's
// `parameters`, Triton's Python backend from r25.02): a JSON object of
// strings, booleans and 64-bit integers, sent typed with the response. The
// first error is returned (the core's limits: 64 per response, names up to
// 256 bytes, strings up to 64 KiB).
InferdError* AddParameters(const InferdCoreApi* api, InferdResponse* response, const rapidjson::Value& parameters);

// A memfd a stub sent, mapped read-only. Opened only when it is sealed
// against shrinking (F_SEAL_SHRINK) and not over kMaxRegionBytes.
class ReceivedFile {
 public:
  ReceivedFile() = default;
  ~ReceivedFile();
  ReceivedFile(const ReceivedFile&) = delete;
  ReceivedFile& operator=(const ReceivedFile&) = delete;
  // Takes over `fd` (closed whatever happens).
  bool Open(int fd, std::string* error);
  const char* data() const { return data_; }
  uint64_t size() const { return size_; }

 private:
  int fd_ = -1;
  char* data_ = nullptr;
  uint64_t size_ = 0;
};

// Creates a memfd holding `size` bytes and maps it for writing; the caller
// fills data() and then takes the descriptor with Release().
class OutgoingFile {
 public:
  OutgoingFile() = default;
  ~OutgoingFile();
  OutgoingFile(const OutgoingFile&) = delete;
  OutgoingFile& operator=(const OutgoingFile&) = delete;
  bool Create(uint64_t size, std::string* error);
  char* data() const { return data_; }
  // Unmaps and returns the descriptor, which the caller now owns.
  int Release();

 private:
  int fd_ = -1;
  char* data_ = nullptr;
  uint64_t size_ = 0;
};

}  // namespace inferd_python
