#include "tensor_json.h"

#include <fcntl.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "stub_process.h"

namespace inferd_python {
namespace {

struct TypeName {
  InferdDataType type;
  const char* name;
};
constexpr TypeName kTypes[] = {
    {INFERD_TYPE_BOOL, "BOOL"},   {INFERD_TYPE_UINT8, "UINT8"},   {INFERD_TYPE_UINT16, "UINT16"},
    {INFERD_TYPE_UINT32, "UINT32"}, {INFERD_TYPE_UINT64, "UINT64"}, {INFERD_TYPE_INT8, "INT8"},
    {INFERD_TYPE_INT16, "INT16"}, {INFERD_TYPE_INT32, "INT32"},   {INFERD_TYPE_INT64, "INT64"},
    {INFERD_TYPE_FP16, "FP16"},   {INFERD_TYPE_FP32, "FP32"},     {INFERD_TYPE_FP64, "FP64"},
    {INFERD_TYPE_BYTES, "BYTES"}, {INFERD_TYPE_BF16, "BF16"},
};

std::string Errno(const char* what) { return std::string(what) + ": " + std::strerror(errno); }

}  // namespace

InferdErrorCode ErrorCodeFromTriton(int64_t code) {
  switch (code) {
    case 1: return INFERD_ERROR_INTERNAL;
    case 2: return INFERD_ERROR_NOT_FOUND;
    case 3: return INFERD_ERROR_INVALID_ARG;
    case 4: return INFERD_ERROR_UNAVAILABLE;
    case 5: return INFERD_ERROR_UNSUPPORTED;
    case 6: return INFERD_ERROR_ALREADY_EXISTS;
    case 7: return INFERD_ERROR_CANCELLED;
    default: return INFERD_ERROR_UNKNOWN;
  }
}
int TritonCodeFromError(InferdErrorCode code) {
  switch (code) {
    case INFERD_ERROR_INTERNAL: return 1;
    case INFERD_ERROR_NOT_FOUND: return 2;
    case INFERD_ERROR_INVALID_ARG: return 3;
    case INFERD_ERROR_UNAVAILABLE: return 4;
    case INFERD_ERROR_UNSUPPORTED: return 5;
    case INFERD_ERROR_ALREADY_EXISTS: return 6;
    case INFERD_ERROR_CANCELLED: return 7;
    default: return 0;
  }
}

const char* DataTypeName(InferdDataType type) {
  for (const auto& t : kTypes)
    if (t.type == type) return t.name;
  return "INVALID";
}

InferdDataType DataTypeFromName(const std::string& name) {
  for (const auto& t : kTypes)
    if (name == t.name) return t.type;
  return INFERD_TYPE_INVALID;
}

std::string JsonString(const rapidjson::Value& v, const char* key) {
  if (!v.IsObject()) return "";
  auto it = v.FindMember(key);
  return it != v.MemberEnd() && it->value.IsString() ? std::string(it->value.GetString(), it->value.GetStringLength())
                                                     : "";
}

std::string JsonText(const rapidjson::Value& v) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
  v.Accept(w);
  return std::string(buffer.GetString(), buffer.GetSize());
}

bool TensorWithin(const TensorRef& t, uint64_t limit, std::string* error) {
  if (t.offset > limit || t.size > limit - t.offset) {
    *error = "tensor '" + t.name + "' lies outside its shared memory";
    return false;
  }
  return true;
}

bool ParseTensorRef(const rapidjson::Value& v, uint64_t limit, TensorRef* out, std::string* error) {
  if (!v.IsObject()) {
    *error = "a tensor description is not an object";
    return false;
  }
  out->name = JsonString(v, "name");
  out->datatype = DataTypeFromName(JsonString(v, "datatype"));
  auto shape = v.FindMember("shape");
  auto offset = v.FindMember("offset");
  auto size = v.FindMember("size");
  bool ok = out->datatype != INFERD_TYPE_INVALID && shape != v.MemberEnd() && shape->value.IsArray() &&
            shape->value.Size() <= 64 && offset != v.MemberEnd() && offset->value.IsUint64() &&
            size != v.MemberEnd() && size->value.IsUint64();
  out->shape.clear();
  for (uint32_t d = 0; ok && d < shape->value.Size(); ++d) {
    ok = shape->value[d].IsInt64() && shape->value[d].GetInt64() >= 0;
    if (ok) out->shape.push_back(shape->value[d].GetInt64());
  }
  out->offset = ok ? offset->value.GetUint64() : 0;
  out->size = ok ? size->value.GetUint64() : 0;
  std::string outside;
  if (!ok || !TensorWithin(*out, limit, &outside)) {
    *error = "tensor '" + out->name + "' is described wrongly or lies outside its shared memory";
    return false;
  }
  return true;
}

InferdError* AddParameters(const InferdCoreApi* api, InferdResponse* response, const rapidjson::Value& parameters) {
  if (!parameters.IsObject()) {
    return api->ErrorNew(INFERD_ERROR_INTERNAL, "python: the stub's response parameters are not an object");
  }
  if (api->api_version < ((1u << 16) | 6u)) {
    return api->ErrorNew(INFERD_ERROR_UNSUPPORTED, "python: this server cannot send response parameters");
  }
  for (const auto& p : parameters.GetObject()) {
    const std::string name(p.name.GetString(), p.name.GetStringLength());
    InferdError* e = nullptr;
    if (p.value.IsString()) {
      const std::string text(p.value.GetString(), p.value.GetStringLength());
      e = api->ResponseSetParameter(response, name.c_str(), INFERD_PARAMETER_STRING, text.c_str());
    } else if (p.value.IsBool()) {
      const int flag = p.value.GetBool() ? 1 : 0;
      e = api->ResponseSetParameter(response, name.c_str(), INFERD_PARAMETER_BOOL, &flag);
    } else if (p.value.IsInt64()) {
      const int64_t n = p.value.GetInt64();
      e = api->ResponseSetParameter(response, name.c_str(), INFERD_PARAMETER_INT, &n);
    } else {
      return api->ErrorNew(INFERD_ERROR_INVALID_ARG, ("python: response parameter '" + name +
                                                      "' is not a bool, a 64-bit int or a str").c_str());
    }
    if (e != nullptr) return e;
  }
  return nullptr;
}

InferdError* AddOutputs(const InferdCoreApi* api, InferdRequest* request, InferdResponse* response,
                        const rapidjson::Value& outputs, const char* base, uint64_t limit) {
  if (!outputs.IsArray()) return api->ErrorNew(INFERD_ERROR_INTERNAL, "python: the stub's outputs are not a list");
  for (const auto& out : outputs.GetArray()) {
    TensorRef t;
    std::string error;
    if (!ParseTensorRef(out, limit, &t, &error)) return api->ErrorNew(INFERD_ERROR_INTERNAL, ("python: " + error).c_str());
    if (InferdError* e = AddOutput(api, request, response, t, base)) return e;
  }
  return nullptr;
}

InferdError* AddOutput(const InferdCoreApi* api, InferdRequest* request, InferdResponse* response,
                       const TensorRef& t, const char* base) {
  bool wanted = false;
  for (uint32_t o = 0; !wanted && o < api->RequestOutputCount(request); ++o) {
    wanted = t.name == api->RequestOutputName(request, o);
  }
  if (!wanted) return nullptr;  // produced but not asked for: not sent, as in Triton
  void* buffer = nullptr;
  // The core checks that the size fits the shape and datatype.
  if (InferdError* e = api->ResponseOutput(response, t.name.c_str(), t.datatype, t.shape.data(),
                                           static_cast<uint32_t>(t.shape.size()), t.size, &buffer)) {
    return e;
  }
  if (t.size > 0) std::memcpy(buffer, base + t.offset, t.size);
  return nullptr;
}

ReceivedFile::~ReceivedFile() {
  if (data_ != nullptr) munmap(data_, size_);
  if (fd_ >= 0) close(fd_);
}

bool ReceivedFile::Open(int fd, std::string* error) {
  fd_ = fd;
  const int seals = fcntl(fd, F_GET_SEALS);
  if (seals < 0 || (seals & F_SEAL_SHRINK) == 0) {
    *error = "the stub sent shared memory that is not a memfd sealed against shrinking";
    return false;
  }
  struct stat st {};
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size < 0 ||
      static_cast<uint64_t>(st.st_size) > kMaxRegionBytes) {
    *error = "the stub sent shared memory of a size the backend does not take";
    return false;
  }
  size_ = static_cast<uint64_t>(st.st_size);
  if (size_ == 0) return true;
  void* p = mmap(nullptr, size_, PROT_READ, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) {
    *error = Errno("mmap of the stub's shared memory");
    size_ = 0;
    return false;
  }
  data_ = static_cast<char*>(p);
  return true;
}

OutgoingFile::~OutgoingFile() {
  if (data_ != nullptr) munmap(data_, size_);
  if (fd_ >= 0) close(fd_);
}

bool OutgoingFile::Create(uint64_t size, std::string* error) {
  if (size > kMaxRegionBytes) {
    *error = "a response of " + std::to_string(size) + " bytes is more than the Python backend moves at once";
    return false;
  }
  fd_ = memfd_create("inferd-python-result", MFD_CLOEXEC);
  if (fd_ < 0 || ftruncate(fd_, static_cast<off_t>(size)) != 0) {
    *error = Errno("memfd for a response");
    return false;
  }
  size_ = size;
  if (size == 0) return true;
  void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd_, 0);
  if (p == MAP_FAILED) {
    *error = Errno("mmap for a response");
    size_ = 0;
    return false;
  }
  data_ = static_cast<char*>(p);
  return true;
}

int OutgoingFile::Release() {
  if (data_ != nullptr) munmap(data_, size_);
  data_ = nullptr;
  const int fd = fd_;
  fd_ = -1;
  return fd;
}

}  // namespace inferd_python
