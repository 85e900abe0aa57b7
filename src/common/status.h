// Status: the error value used everywhere inside the core. Frontends turn it
// into the protocol's error (HTTP status + {"error": ...}, gRPC status).
#pragma once

#include <string>
#include <utility>

namespace inferd {

class Status {
 public:
  enum class Code {
    kOk = 0,
    kInvalidArg,      // the request or config is wrong; 400
    kNotFound,        // unknown model, version, endpoint; 404
    kUnavailable,     // exists but cannot serve now (not ready, shutting down); 503
    kUnsupported,     // valid but not built (yet); 501
    kAlreadyExists,   // 400 (Triton's choice)
    kInternal,        // our bug or a backend failure; 500
    kResourceExhausted,  // body too large, queue full; 413 / 429
    kPermissionDenied,   // a restricted API without its header; 403
    kCancelled,          // the client cancelled the request (gRPC CANCELLED; 400 as on Triton)
  };

  Status() = default;
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }
  static Status InvalidArg(std::string m) { return {Code::kInvalidArg, std::move(m)}; }
  static Status NotFound(std::string m) { return {Code::kNotFound, std::move(m)}; }
  static Status Unavailable(std::string m) { return {Code::kUnavailable, std::move(m)}; }
  static Status Unsupported(std::string m) { return {Code::kUnsupported, std::move(m)}; }
  static Status AlreadyExists(std::string m) { return {Code::kAlreadyExists, std::move(m)}; }
  static Status Internal(std::string m) { return {Code::kInternal, std::move(m)}; }
  static Status ResourceExhausted(std::string m) {
    return {Code::kResourceExhausted, std::move(m)};
  }
  static Status PermissionDenied(std::string m) { return {Code::kPermissionDenied, std::move(m)}; }
  static Status Cancelled(std::string m) { return {Code::kCancelled, std::move(m)}; }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }

  // The same error with `context` in front ("model 'x': " + message).
  Status Prefixed(const std::string& context) const {
    return ok() ? *this : Status(code_, context + message_);
  }

 private:
  Code code_ = Code::kOk;
  std::string message_;
};

// Returns from the enclosing function when `expr` is not OK.
#define INFERD_RETURN_IF_ERROR(expr)        \
  do {                                      \
    ::inferd::Status _st = (expr);          \
    if (!_st.ok()) return _st;              \
  } while (0)

}  // namespace inferd
