// One gRPC call on inferd's HTTP/2 transport: an HTTP/2 stream's request
// headers and message bytes as they arrive, and its answer (messages, then
// trailers) as nghttp2 takes it. Fields are the connection's, touched on its
// strand only, except `responded`.
#pragma once

#include <google/protobuf/arena.h>
#include <grpcpp/support/status.h>

#include <atomic>
#include <boost/asio/steady_timer.hpp>
#include <boost/container/small_vector.hpp>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/inference_request.h"
#include "core/trace.h"
#include "frontend/grpc/rpc_handlers.h"
#include "frontend/http/compression.h"

namespace inferd::grpc_h2 {

inline google::protobuf::ArenaOptions ArenaInBlock(char* block, size_t size) {
  google::protobuf::ArenaOptions options;
  options.initial_block = block;
  options.initial_block_size = size;
  return options;
}

struct Call {
  // kReflection: ServerReflectionInfo, a stream answered message by message.
  enum class Kind { kUnknown, kUnary, kInfer, kStreamInfer, kReflection };

  explicit Call(int32_t id, uint64_t now_ns) : stream_id(id), start_ns(now_ns) {}

  // Any number of messages each way (the others carry one request message).
  bool streaming() const { return kind == Kind::kStreamInfer || kind == Kind::kReflection; }

  const int32_t stream_id;
  const uint64_t start_ns;  // the request's first header arrived

  // --- request headers ---
  Kind kind = Kind::kUnknown;
  const grpc_frontend::UnaryRpc* unary = nullptr;
  bool is_post = false;
  bool grpc_content_type = false;
  http::Encoding request_encoding = http::Encoding::kIdentity;
  bool bad_encoding = false;
  std::string encoding_name;  // as the client wrote it (at most 64 bytes), for the error
  // Infer answers are compressed with this (--grpc-infer-response-compression-level
  // and an encoding the client accepts); unset: not compressed.
  std::optional<http::Encoding> response_encoding;
  std::optional<int64_t> timeout_ns;
  std::string traceparent;
  // The values of the metadata keys that restriction rules name (the rest of
  // the metadata is not kept).
  boost::container::small_vector<std::pair<std::string_view, std::string>, 1> restricted_metadata;
  size_t header_bytes = 0;
  std::string unknown_path;  // a path we do not serve (at most 256 bytes), for the error

  // --- request messages ---
  std::string body;        // bytes received and not yet taken as messages
  size_t body_offset = 0;  // ModelStreamInfer: where the next message starts in `body`
  size_t scan_offset = 0;  // ModelStreamInfer: messages before this were checked (prefix and size)
  bool request_ended = false;  // the client's END_STREAM came
  bool queued = false;         // in the connection's list of calls to run after this read
  bool started = false;        // headers checked and the call begun (ModelStreamInfer: messages taken)
  uint64_t charged_bytes = 0;  // request bytes counted against the connection's budget

  // --- the answer ---
  std::string out;  // framed messages nghttp2 has not taken yet, from out_offset
  size_t out_offset = 0;
  bool response_started = false;  // HEADERS submitted with a data source
  bool deferred = false;          // the data source said "nothing yet"
  bool finished = false;          // no more messages: trailers with `status` after `out`
  grpc::Status status;
  bool closed = false;  // the stream is closed: nothing is sent any more
  // Exactly one answer to a unary call or ModelInfer reaches the strand (any thread).
  std::atomic<bool> responded{false};
  std::optional<boost::asio::steady_timer> deadline;  // grpc-timeout
  bool counted = false;  // in H2Context::calls_in_flight (ModelInfer and ModelStreamInfer)

  // --- ModelInfer ---
  std::weak_ptr<InferenceRequest> request;  // to cancel it while the core has it
  // Its messages live in an arena whose first block is part of the call: raw
  // inputs point into the request message until the answer.
  static constexpr size_t kArenaBlockBytes = 4096;
  alignas(16) char arena_block[kArenaBlockBytes];
  google::protobuf::Arena arena{ArenaInBlock(arena_block, kArenaBlockBytes)};

  // --- ModelStreamInfer ---
  int64_t outstanding = 0;        // requests without a final response
  uint64_t request_bytes = 0;     // bytes of those requests' messages
  bool paused = false;            // messages wait until responses drain (backpressure)
  size_t withheld_bytes = 0;      // received while paused, not yet given back to the client's window
  bool pumping = false;           // inside PumpStream (an inline answer must not re-enter it)
  std::vector<std::weak_ptr<InferenceRequest>> in_core;  // cancelled when the stream breaks
  // Answers in the order the core produced them (any thread appends, the
  // strand drains): a hop per answer could reorder them, as answers of one
  // request may come from several threads (an ensemble's steps).
  struct StreamAnswer {
    std::string message;  // framed; empty: nothing to send
    bool final;
    uint64_t request_bytes;
    std::shared_ptr<RequestTrace> trace;
  };
  std::mutex answers_mu;
  std::vector<StreamAnswer> answers;  // guarded by answers_mu
  bool drain_scheduled = false;       // guarded by answers_mu
};

}  // namespace inferd::grpc_h2
