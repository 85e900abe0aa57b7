// The stub's own channel to the server: the messages a model.py starts, from
// execute() or from any thread of its own, where stub_process.h carries the
// server's calls. A SOCK_SEQPACKET socket (the stub's fd 5), one JSON
// message per packet, at most one memfd passed with it (SCM_RIGHTS) holding
// the tensors the message describes.
//
// From the stub (each answered with {"id"} or {"id", "error"} unless said):
//  {"type":"send", "id", "request": handle, "flags", "outputs"? | "error"?}
//      a response through a request's response sender (decoupled models);
//  {"type":"infer", "id", "model_name", "model_version", "request_id",
//   "correlation_id", "flags", "timeout", "priority", "inputs", "outputs",
//   "parameters", "decoupled"}
//      BLS: a request to any model the server serves, run in-process
//      (InferdCoreApi.Infer); answered by one message per response,
//      {"id", "final", "outputs" | "error"}, the last with "final": true;
//  {"type":"is_cancelled", "id", "request": handle} -> {"id", "cancelled": bool}:
//      whether the client cancelled a request the stub holds (false once answered);
//  {"type":"log", "level", "message"}: a line in the server's log, no answer;
//  {"type":"metric_..."}: custom metrics (pb_utils.MetricFamily), see stub_metrics.h;
//  {"type":"model_load", "id", "model_name", "config", "files": [{"path", "offset", "size"}]}
//      pb_utils.load_model (InferdCoreApi.ModelLoad), the files' bytes in the memfd;
//  {"type":"model_unload", "id", "model_name", "unload_dependents"}: pb_utils.unload_model;
//      both answered once the server is done, from its thread, through the outbox;
//  {"type":"model_ready", "id", "model_name", "model_version"} -> {"id", "ready": bool}.
//
// One thread per channel reads the stub's messages and writes every message
// to it (BLS answers arrive on other models' threads, which must never block
// on a slow stub: they queue their message and wake this thread).
#pragma once

#include <inferd/backend.h>
#include <rapidjson/document.h>

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "stub_metrics.h"

namespace inferd_python {

// The longest JSON message either side may put in one packet.
constexpr uint32_t kMaxChannelMessageBytes = 160 * 1024;

struct Outbox;

class StubChannel {
 public:
  // Takes over `socket`; starts the thread. `description` names the model
  // and instance in messages.
  StubChannel(const InferdCoreApi* api, int socket, std::string model, std::string description);
  // Stops the thread and closes the socket; requests still registered are
  // answered with an error (their stub is gone).
  ~StubChannel();
  StubChannel(const StubChannel&) = delete;
  StubChannel& operator=(const StubChannel&) = delete;

  // A request of the execution now running, which the stub may answer
  // through its response sender; the handle names it in "send" messages.
  uint64_t Register(InferdRequest* request);
  // Takes a request out: null when a final "send" answered it already. The
  // caller then owns the answering of what it took.
  InferdRequest* Take(uint64_t handle);
  // The execution that registered these is over: a decoupled model answers
  // them from now on, until the stub ends (then they are answered with an
  // error by the channel, or here when it has already ended).
  void Release(const std::vector<uint64_t>& handles);
  // True once the stub closed its end: it has exited (or is exiting).
  bool ended() {
    std::lock_guard<std::mutex> lock(mu_);
    return ended_;
  }

 private:
  struct Registered {
    InferdRequest* request;
    bool executing;  // its execution is running: the instance thread answers it if the stub dies
  };
  void Run();
  void Handle(const char* data, size_t size, int fd);
  void HandleSend(const rapidjson::Document& message, int fd);
  void HandleInfer(const rapidjson::Document& message, int fd);
  void HandleLog(const rapidjson::Document& message);
  void HandleIsCancelled(uint64_t id, const rapidjson::Document& message);
  void HandleMetric(uint64_t id, const std::string& type, const rapidjson::Document& message);
  void HandleModelLoad(const rapidjson::Document& message, int fd);
  void HandleModelControl(const std::string& type, const rapidjson::Document& message);
  void Reply(uint64_t id, const std::string& error);
  void FailReleased(const std::string& why);
  std::string Ended() const;

  const InferdCoreApi* api_;
  const int socket_;
  const std::string model_, description_;
  std::shared_ptr<Outbox> outbox_;
  std::mutex mu_;  // guards requests_ and ended_; held while a request is answered through it
  std::map<uint64_t, Registered> requests_;
  uint64_t next_handle_ = 1;
  bool ended_ = false;
  StubMetrics metrics_;  // the channel thread's only
  std::thread thread_;
};

}  // namespace inferd_python
