// The inferd client library: talks KServe v2 to inferd (or Triton) over HTTP
// (binary tensor extension) or gRPC, synchronously. Used by inferd-perf and
// usable by any C++ program.
//
// One InferClient is used by one thread at a time (an HTTP client owns one
// keep-alive connection); make one per thread. gRPC clients made by the same
// GrpcChannel share its HTTP/2 connection.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"

namespace inferd::client {

struct TensorInfo {
  std::string name;
  std::string datatype;        // KServe wire name: FP32, BYTES, ...
  std::vector<int64_t> shape;  // metadata shape: -1 for variable (and batch) dims
  bool optional = false;
};

struct ModelInfo {
  std::string name;
  std::vector<std::string> versions;
  int64_t max_batch_size = 0;  // from the config; 0: the model does not batch
  bool decoupled = false;
  std::vector<TensorInfo> inputs;
  std::vector<TensorInfo> outputs;
};

// One input of a request: shape with the batch dimension, raw bytes (BYTES
// elements prefixed by their 4-byte little-endian length).
struct InputTensor {
  std::string name;
  std::string datatype;
  std::vector<int64_t> shape;
  std::string data;
};

// A request prepared once and sent many times.
struct InferRequest {
  std::string model;
  std::string version;  // "" = latest
  std::vector<InputTensor> inputs;
  std::vector<std::string> outputs;  // "" = every output
};

// Where the time of one request went, in nanoseconds.
struct RequestTiming {
  uint64_t send_ns = 0;           // writing the request
  uint64_t response_wait_ns = 0;  // from sent to the response received
  uint64_t receive_ns = 0;        // reading/decoding the response
};

// Cumulative statistics of one model version (Triton's statistics extension).
struct ServerStats {
  struct Duration {
    uint64_t count = 0, ns = 0;
  };
  uint64_t inference_count = 0, execution_count = 0;
  Duration success, fail, queue, compute_input, compute_infer, compute_output, cache_hit, cache_miss;
};

struct OutputTensor {
  std::string name, datatype;
  std::vector<int64_t> shape;
  std::string data;
};

class InferClient {
 public:
  virtual ~InferClient() = default;

  virtual Status ServerLive(bool* live) = 0;
  virtual Status ModelMetadata(const std::string& model, const std::string& version, ModelInfo* out) = 0;
  // Sums every loaded version when `version` is "".
  virtual Status ModelStatistics(const std::string& model, const std::string& version,
                                 ServerStats* out) = 0;
  // Sets the request later Infer calls send (encoded once here).
  virtual Status Prepare(const InferRequest& request) = 0;
  // Sends the prepared request and waits for its answer. `outputs` may be
  // null when the caller does not look at them.
  virtual Status Infer(RequestTiming* timing, std::vector<OutputTensor>* outputs) = 0;
  // The same over a bidirectional stream (gRPC only; the stream opens at the
  // first call and stays open): waits for every response of the request, up
  // to the one flagged final, so decoupled models can be measured.
  // `responses` gets how many carried outputs.
  virtual Status StreamInfer(RequestTiming* timing, size_t* responses) {
    (void)timing;
    (void)responses;
    return Status::Unsupported("streaming needs gRPC (-i grpc)");
  }
};

// headers: extra HTTP headers / gRPC metadata sent with every call.
using Headers = std::vector<std::pair<std::string, std::string>>;

// "host:port"; the connection opens at the first call.
std::unique_ptr<InferClient> MakeHttpClient(const std::string& url, const Headers& headers);

struct GrpcSsl {
  bool use_ssl = false;
  std::string root_certificates_file, private_key_file, certificate_chain_file;
};

class GrpcChannel;  // a shared connection
Status MakeGrpcChannel(const std::string& url, const GrpcSsl& ssl, std::shared_ptr<GrpcChannel>* out);
std::unique_ptr<InferClient> MakeGrpcClient(std::shared_ptr<GrpcChannel> channel, const Headers& headers);

// Byte size of one element of a fixed-size datatype; 0 for BYTES or unknown.
size_t WireTypeSize(const std::string& datatype);

}  // namespace inferd::client
