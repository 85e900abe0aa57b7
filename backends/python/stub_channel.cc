#include "stub_channel.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <utility>

#include "stub_process.h"
#include "tensor_json.h"

namespace inferd_python {

namespace {

// At most this many BLS requests of one stub wait for their answers (each
// answer may hold a memfd until the stub reads it).
constexpr uint32_t kMaxBlsInFlight = 1024;
// Error texts sent to the stub are cut to this length.
constexpr size_t kMaxErrorText = 16 * 1024;
constexpr const char* kSenderClosed = "Unable to send response. Response sender has been closed.";

std::string Cut(std::string text) {
  if (text.size() > kMaxErrorText) text.resize(kMaxErrorText);
  return text;
}

// One packet, with `fd` passed along when it is not -1. Blocking; false when
// the stub is gone.
bool SendPacket(int socket, const std::string& message, int fd) {
  iovec iov{const_cast<char*>(message.data()), message.size()};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))];
  if (fd >= 0) {
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(c), &fd, sizeof(int));
  }
  for (;;) {
    // MSG_NOSIGNAL: a stub that died must not raise SIGPIPE in the server.
    const ssize_t n = sendmsg(socket, &msg, MSG_NOSIGNAL);
    if (n >= 0) return true;
    if (errno != EINTR) return false;
  }
}

}  // namespace

// What the channel thread sends, queued by any thread. Shared with the BLS
// requests in flight, whose answers may come after the channel is gone.
struct Outbox {
  std::mutex mu;
  bool closed = false;  // the channel stopped: later messages are dropped
  std::vector<std::pair<std::string, int>> queue;
  int event_fd = -1;
  std::atomic<uint32_t> bls_in_flight{0};

  ~Outbox() {
    for (auto& m : queue)
      if (m.second >= 0) close(m.second);
    if (event_fd >= 0) close(event_fd);
  }
  // Queues a message (taking over `fd`) and wakes the channel thread.
  void Post(std::string message, int fd) {
    {
      std::lock_guard<std::mutex> lock(mu);
      if (closed) {
        if (fd >= 0) close(fd);
        return;
      }
      queue.emplace_back(std::move(message), fd);
    }
    Wake();
  }
  void Wake() const {
    const uint64_t one = 1;
    while (write(event_fd, &one, sizeof one) < 0 && errno == EINTR) {
    }
  }
};

namespace {

// One BLS request in flight: where its answers go.
struct BlsCall {
  const InferdCoreApi* api;
  std::shared_ptr<Outbox> outbox;
  uint64_t id;

  // The InferdInferCallback: the response becomes a message (its outputs in a
  // memfd) queued for the stub. Runs on whichever thread answered.
  static void OnResponse(void* userp, InferdInferResult* result, uint32_t flags) noexcept {
    auto* call = static_cast<BlsCall*>(userp);
    const bool final = (flags & INFERD_RESPONSE_FINAL) != 0;
    try {
      call->Forward(result, final);
    } catch (...) {
      call->api->InferResultDelete(result);
      try {
        call->outbox->Post("{\"id\":" + std::to_string(call->id) + ",\"final\":" + (final ? "true" : "false") +
                               ",\"error\":\"out of memory forwarding a BLS response\"}",
                           -1);
      } catch (...) {
        // Nothing more can be done: the stub's request waits until its stub ends.
      }
    }
    if (final) {
      call->outbox->bls_in_flight--;
      delete call;
    }
  }

  void Forward(InferdInferResult* result, bool final) {
    rapidjson::Document m(rapidjson::kObjectType);
    auto& alloc = m.GetAllocator();
    m.AddMember("id", id, alloc);
    m.AddMember("final", final, alloc);
    int fd = -1;
    InferdErrorCode code = INFERD_ERROR_UNKNOWN;
    if (const char* failed = api->InferResultError(result, &code)) {
      m.AddMember("error", rapidjson::Value(Cut(failed).c_str(), alloc), alloc);
      m.AddMember("code", TritonCodeFromError(code), alloc);
    } else {
      const uint32_t count = api->InferResultOutputCount(result);
      struct Out {
        const char* name;
        InferdDataType type;
        const int64_t* shape;
        uint32_t dims;
        const void* data;
        uint64_t size;
      };
      std::vector<Out> outs(count);
      uint64_t total = 0;
      for (uint32_t i = 0; i < count; ++i) {
        Out& o = outs[i];
        if (InferdError* e = api->InferResultOutput(result, i, &o.name, &o.type, &o.shape, &o.dims, &o.data, &o.size)) {
          api->ErrorDelete(e);
          o.size = 0;
          o.dims = 0;
        }
        total += AlignUp(o.size);
      }
      OutgoingFile file;
      std::string error;
      if (!file.Create(total, &error)) {
        m.AddMember("error", rapidjson::Value(error.c_str(), alloc), alloc);
      } else {
        rapidjson::Value list(rapidjson::kArrayType);
        uint64_t offset = 0;
        for (const Out& o : outs) {
          if (o.size > 0) std::memcpy(file.data() + offset, o.data, o.size);
          rapidjson::Value t(rapidjson::kObjectType);
          t.AddMember("name", rapidjson::Value(o.name, alloc), alloc);
          t.AddMember("datatype", rapidjson::StringRef(DataTypeName(o.type)), alloc);
          rapidjson::Value shape(rapidjson::kArrayType);
          for (uint32_t d = 0; d < o.dims; ++d) shape.PushBack(o.shape[d], alloc);
          t.AddMember("shape", shape, alloc);
          t.AddMember("offset", offset, alloc);
          t.AddMember("size", o.size, alloc);
          list.PushBack(t, alloc);
          offset += AlignUp(o.size);
        }
        m.AddMember("outputs", list, alloc);
        fd = file.Release();
      }
    }
    api->InferResultDelete(result);
    outbox->Post(JsonText(m), fd);
  }
};

// The error's message; the error is deleted.
std::string ErrorText(const InferdCoreApi* api, InferdError* e) {
  std::string text = api->ErrorMessage(e);
  api->ErrorDelete(e);
  return text;
}

// A load or unload a model asked for (pb_utils.load_model / unload_model):
// its answer, from the server thread that ran it, queued for the stub.
struct ControlCall {
  const InferdCoreApi* api;
  std::shared_ptr<Outbox> outbox;
  uint64_t id;

  // The InferdModelControlCallback.
  static void OnDone(void* userp, InferdError* error) noexcept {
    std::unique_ptr<ControlCall> call(static_cast<ControlCall*>(userp));
    try {
      rapidjson::Document m(rapidjson::kObjectType);
      auto& alloc = m.GetAllocator();
      m.AddMember("id", call->id, alloc);
      m.AddMember("final", true, alloc);
      if (error != nullptr) {
        m.AddMember("error", rapidjson::Value(Cut(call->api->ErrorMessage(error)).c_str(), alloc), alloc);
      }
      call->outbox->Post(JsonText(m), -1);
    } catch (...) {
      // Out of memory: the stub's call waits until its stub ends.
    }
    if (error != nullptr) call->api->ErrorDelete(error);
  }
};

constexpr uint32_t kApi1_7 = (1u << 16) | 7u;

}  // namespace

StubChannel::StubChannel(const InferdCoreApi* api, int socket, std::string model, std::string description)
    : api_(api), socket_(socket), model_(std::move(model)), description_(std::move(description)),
      outbox_(std::make_shared<Outbox>()), metrics_(api) {
  outbox_->event_fd = eventfd(0, EFD_CLOEXEC);
  thread_ = std::thread([this] { Run(); });
}

StubChannel::~StubChannel() {
  {
    std::lock_guard<std::mutex> lock(outbox_->mu);
    outbox_->closed = true;
  }
  outbox_->Wake();
  thread_.join();
  close(socket_);
  std::map<uint64_t, Registered> left;
  {
    std::lock_guard<std::mutex> lock(mu_);
    left.swap(requests_);
  }
  for (auto& [handle, entry] : left) {
    api_->RequestRespondError(entry.request,
                              api_->ErrorNew(INFERD_ERROR_UNAVAILABLE, (Ended() + " (it was stopped)").c_str()));
  }
}

std::string StubChannel::Ended() const {
  return "the Python stub of " + description_ + " ended before the request's final response";
}

uint64_t StubChannel::Register(InferdRequest* request) {
  std::lock_guard<std::mutex> lock(mu_);
  const uint64_t handle = next_handle_++;
  requests_.emplace(handle, Registered{request, true});
  return handle;
}

InferdRequest* StubChannel::Take(uint64_t handle) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = requests_.find(handle);
  if (it == requests_.end()) return nullptr;
  InferdRequest* request = it->second.request;
  requests_.erase(it);
  return request;
}

void StubChannel::Release(const std::vector<uint64_t>& handles) {
  bool ended;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (uint64_t h : handles) {
      auto it = requests_.find(h);
      if (it != requests_.end()) it->second.executing = false;
    }
    ended = ended_;
  }
  if (ended) FailReleased(Ended());
}

void StubChannel::FailReleased(const std::string& why) {
  std::vector<InferdRequest*> failed;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto it = requests_.begin(); it != requests_.end();) {
      if (it->second.executing) {
        ++it;
        continue;
      }
      failed.push_back(it->second.request);
      it = requests_.erase(it);
    }
  }
  for (InferdRequest* r : failed) api_->RequestRespondError(r, api_->ErrorNew(INFERD_ERROR_INTERNAL, why.c_str()));
}

void StubChannel::Run() {
  std::vector<char> buffer(kMaxChannelMessageBytes + 1);
  for (;;) {
    pollfd p[2] = {{socket_, POLLIN, 0}, {outbox_->event_fd, POLLIN, 0}};
    if (poll(p, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (p[1].revents & POLLIN) {
      uint64_t count;
      while (read(outbox_->event_fd, &count, sizeof count) < 0 && errno == EINTR) {
      }
      std::vector<std::pair<std::string, int>> out;
      bool closed;
      {
        std::lock_guard<std::mutex> lock(outbox_->mu);
        out.swap(outbox_->queue);
        closed = outbox_->closed;
      }
      for (auto& [message, fd] : out) {
        SendPacket(socket_, message, fd);  // a stub that is gone ends the loop below
        if (fd >= 0) close(fd);
      }
      if (closed) break;
    }
    if ((p[0].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
    iovec iov{buffer.data(), buffer.size()};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * 4)];
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    const ssize_t n = recvmsg(socket_, &msg, MSG_CMSG_CLOEXEC);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n <= 0) break;  // the stub closed its end: it has exited
    int fd = -1;
    for (int received : ReceivedDescriptors(msg)) {
      if (fd < 0) fd = received;
      else close(received);  // one file per message; more are not taken
    }
    if (msg.msg_flags & MSG_TRUNC) {
      if (fd >= 0) close(fd);
      api_->Log(INFERD_LOG_ERROR, __FILE__, __LINE__,
                ("python: the stub of " + description_ + " sent a message over " +
                 std::to_string(kMaxChannelMessageBytes) + " bytes; it is dropped").c_str());
      continue;
    }
    Handle(buffer.data(), static_cast<size_t>(n), fd);
  }
  {
    std::lock_guard<std::mutex> lock(outbox_->mu);
    outbox_->closed = true;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    ended_ = true;
  }
  FailReleased(Ended());
}

void StubChannel::Reply(uint64_t id, const std::string& error) {
  rapidjson::Document m(rapidjson::kObjectType);
  auto& alloc = m.GetAllocator();
  m.AddMember("id", id, alloc);
  m.AddMember("final", true, alloc);
  if (!error.empty()) m.AddMember("error", rapidjson::Value(Cut(error).c_str(), alloc), alloc);
  SendPacket(socket_, JsonText(m), -1);
}

void StubChannel::Handle(const char* data, size_t size, int fd) {
  rapidjson::Document message;
  message.Parse(data, size);
  const std::string type = message.HasParseError() ? "" : JsonString(message, "type");
  if (type == "log") {
    if (fd >= 0) close(fd);
    return HandleLog(message);
  }
  if (type == "metric_delete" || type == "metric_family_delete") {  // from a __del__: no answer
    if (fd >= 0) close(fd);
    rapidjson::Document ignored(rapidjson::kObjectType);
    metrics_.Handle(type, message, &ignored);
    return;
  }
  auto id = message.IsObject() ? message.FindMember("id") : message.MemberEnd();
  if (type.empty() || id == message.MemberEnd() || !id->value.IsUint64()) {
    if (fd >= 0) close(fd);
    api_->Log(INFERD_LOG_ERROR, __FILE__, __LINE__,
              ("python: the stub of " + description_ + " sent a message that is not one of the protocol's").c_str());
    return;
  }
  if (type == "send") return HandleSend(message, fd);
  if (type == "infer") return HandleInfer(message, fd);
  if (type == "model_load") return HandleModelLoad(message, fd);
  if (fd >= 0) close(fd);
  if (type == "model_unload" || type == "model_ready") return HandleModelControl(type, message);
  if (type == "is_cancelled") return HandleIsCancelled(id->value.GetUint64(), message);
  if (StubMetrics::Handles(type)) return HandleMetric(id->value.GetUint64(), type, message);
  Reply(id->value.GetUint64(), "unknown message type '" + type + "'");
}

void StubChannel::HandleSend(const rapidjson::Document& message, int fd) {
  const uint64_t id = message["id"].GetUint64();
  ReceivedFile file;
  std::string error;
  if (fd >= 0 && !file.Open(fd, &error)) return Reply(id, error);
  auto handle = message.FindMember("request");
  auto flags = message.FindMember("flags");
  if (handle == message.MemberEnd() || !handle->value.IsUint64() || flags == message.MemberEnd() ||
      !flags->value.IsUint()) {
    return Reply(id, "a response needs its request and flags");
  }
  const bool final = (flags->value.GetUint() & INFERD_RESPONSE_FINAL) != 0;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = requests_.find(handle->value.GetUint64());
  if (it == requests_.end()) return Reply(id, kSenderClosed);
  InferdRequest* request = it->second.request;
  if (final) requests_.erase(it);
  InferdResponse* response = nullptr;
  if (InferdError* e = api_->ResponseNew(request, &response)) {
    error = api_->ErrorMessage(e);
    if (final) api_->RequestRespondError(request, e);
    else api_->ErrorDelete(e);
    return Reply(id, error);
  }
  InferdError* failed = nullptr;
  if (auto e = message.FindMember("error"); e != message.MemberEnd() && e->value.IsString()) {
    auto code = message.FindMember("code");
    failed = api_->ErrorNew(code != message.MemberEnd() && code->value.IsInt64()
                                ? ErrorCodeFromTriton(code->value.GetInt64())
                                : INFERD_ERROR_INTERNAL,
                            e->value.GetString());
  } else if (auto outputs = message.FindMember("outputs"); outputs != message.MemberEnd()) {
    failed = AddOutputs(api_, request, response, outputs->value, file.data(), file.size());
    if (auto parameters = message.FindMember("parameters"); failed == nullptr && parameters != message.MemberEnd()) {
      failed = AddParameters(api_, response, parameters->value);
    }
  }
  if (InferdError* e = api_->ResponseSend(response, final ? INFERD_RESPONSE_FINAL : 0, failed)) {
    error = api_->ErrorMessage(e);
    api_->ErrorDelete(e);
  }
  Reply(id, error);
}

void StubChannel::HandleInfer(const rapidjson::Document& message, int fd) {
  const uint64_t id = message["id"].GetUint64();
  ReceivedFile file;
  std::string error;
  if (fd >= 0 && !file.Open(fd, &error)) return Reply(id, error);
  auto member = [&](const char* key) -> const rapidjson::Value* {
    auto it = message.FindMember(key);
    return it == message.MemberEnd() || it->value.IsNull() ? nullptr : &it->value;
  };
  InferdInferRequest spec{};
  const std::string model_name = JsonString(message, "model_name");
  const std::string request_id = JsonString(message, "request_id");
  if (model_name.empty()) return Reply(id, "a BLS request needs a model_name");
  spec.model_name = model_name.c_str();
  spec.request_id = request_id.c_str();
  spec.model_version = -1;
  if (const auto* v = member("model_version")) {
    if (!v->IsInt64() || v->GetInt64() < -1) return Reply(id, "model_version must be an integer, -1 for the latest");
    spec.model_version = v->GetInt64();
  }
  if (const auto* v = member("correlation_id")) {
    if (!v->IsUint64()) return Reply(id, "correlation_id must be a non-negative integer");
    spec.correlation_id = v->GetUint64();
  }
  if (const auto* v = member("flags")) {
    if (!v->IsUint()) return Reply(id, "flags must be a non-negative integer");
    spec.flags = v->GetUint();
  }
  if (const auto* v = member("timeout")) {
    if (!v->IsUint64()) return Reply(id, "timeout must be a non-negative integer (microseconds)");
    spec.timeout_us = v->GetUint64();
  }
  if (const auto* v = member("priority")) {
    if (!v->IsUint()) return Reply(id, "priority must be a non-negative integer");
    spec.priority = v->GetUint();
  }
  if (const auto* v = member("decoupled")) spec.many_responses = v->IsTrue() ? 1 : 0;
  std::vector<TensorRef> refs;
  std::vector<InferdInferInput> inputs;
  if (const auto* list = member("inputs")) {
    if (!list->IsArray() || list->Size() > 4096) return Reply(id, "inputs must be a list");
    refs.resize(list->Size());
    for (uint32_t i = 0; i < list->Size(); ++i) {
      if (!ParseTensorRef((*list)[i], file.size(), &refs[i], &error)) return Reply(id, error);
    }
    for (const TensorRef& t : refs) {
      inputs.push_back({t.name.c_str(), t.datatype, t.shape.data(), static_cast<uint32_t>(t.shape.size()),
                        file.data() + t.offset, t.size});
    }
  }
  spec.inputs = inputs.data();
  spec.input_count = static_cast<uint32_t>(inputs.size());
  std::vector<const char*> output_names;
  if (const auto* list = member("outputs")) {
    if (!list->IsArray() || list->Size() > 4096) return Reply(id, "requested_output_names must be a list");
    for (const auto& name : list->GetArray()) {
      if (!name.IsString()) return Reply(id, "requested_output_names must be strings");
      output_names.push_back(name.GetString());
    }
  }
  spec.output_names = output_names.data();
  spec.output_count = static_cast<uint32_t>(output_names.size());
  std::vector<std::string> keys, values;
  if (const auto* params = member("parameters")) {
    if (!params->IsObject() || params->MemberCount() > 1024) return Reply(id, "parameters must be a dict");
    for (const auto& p : params->GetObject()) {
      keys.emplace_back(p.name.GetString(), p.name.GetStringLength());
      if (p.value.IsString()) values.emplace_back(p.value.GetString(), p.value.GetStringLength());
      else if (p.value.IsBool()) values.emplace_back(p.value.GetBool() ? "true" : "false");
      else if (p.value.IsNumber()) values.push_back(JsonText(p.value));
      else return Reply(id, "parameter '" + keys.back() + "' must be a string, a number or a bool");
    }
  }
  std::vector<const char*> key_ptrs, value_ptrs;
  for (size_t p = 0; p < keys.size(); ++p) {
    key_ptrs.push_back(keys[p].c_str());
    value_ptrs.push_back(values[p].c_str());
  }
  spec.parameter_keys = key_ptrs.data();
  spec.parameter_values = value_ptrs.data();
  spec.parameter_count = static_cast<uint32_t>(keys.size());
  if (outbox_->bls_in_flight.fetch_add(1) >= kMaxBlsInFlight) {
    outbox_->bls_in_flight--;
    return Reply(id, "more than " + std::to_string(kMaxBlsInFlight) + " BLS requests of " + description_ +
                         " are waiting for their answers");
  }
  auto* call = new BlsCall{api_, outbox_, id};
  if (InferdError* e = api_->Infer(&spec, &BlsCall::OnResponse, call)) {
    outbox_->bls_in_flight--;
    delete call;
    error = api_->ErrorMessage(e);
    api_->ErrorDelete(e);
    Reply(id, error);
  }
}

void StubChannel::HandleModelLoad(const rapidjson::Document& message, int fd) {
  const uint64_t id = message["id"].GetUint64();
  ReceivedFile file;
  std::string error;
  if (fd >= 0 && !file.Open(fd, &error)) return Reply(id, error);
  if (api_->api_version < kApi1_7) return Reply(id, "this server cannot load models for a model (backend API < 1.7)");
  const std::string name = JsonString(message, "model_name");
  const std::string config = JsonString(message, "config");
  if (name.empty()) return Reply(id, "load_model needs a model_name");
  std::vector<std::string> paths;
  std::vector<const void*> contents;
  std::vector<uint64_t> sizes;
  if (auto files = message.FindMember("files"); files != message.MemberEnd() && !files->value.IsNull()) {
    if (!files->value.IsArray() || files->value.Size() > 4096) return Reply(id, "files must be a list");
    for (const auto& f : files->value.GetArray()) {
      auto path = f.IsObject() ? f.FindMember("path") : f.MemberEnd();
      auto offset = f.IsObject() ? f.FindMember("offset") : f.MemberEnd();
      auto size = f.IsObject() ? f.FindMember("size") : f.MemberEnd();
      if (path == f.MemberEnd() || !path->value.IsString() || offset == f.MemberEnd() || !offset->value.IsUint64() ||
          size == f.MemberEnd() || !size->value.IsUint64()) {
        return Reply(id, "each file is described by its path, offset and size");
      }
      const uint64_t at = offset->value.GetUint64(), bytes = size->value.GetUint64();
      if (at > file.size() || bytes > file.size() - at) return Reply(id, "a file lies outside the memory it came in");
      paths.emplace_back(path->value.GetString(), path->value.GetStringLength());
      contents.push_back(file.data() + at);
      sizes.push_back(bytes);
    }
  }
  std::vector<const char*> path_ptrs;
  for (const std::string& path : paths) path_ptrs.push_back(path.c_str());
  auto* call = new ControlCall{api_, outbox_, id};
  if (InferdError* e = api_->ModelLoad(name.c_str(), config.empty() ? nullptr : config.c_str(), path_ptrs.data(),
                                       contents.data(), sizes.data(), static_cast<uint32_t>(paths.size()),
                                       &ControlCall::OnDone, call)) {
    delete call;
    Reply(id, ErrorText(api_, e));
  }
}

void StubChannel::HandleModelControl(const std::string& type, const rapidjson::Document& message) {
  const uint64_t id = message["id"].GetUint64();
  if (api_->api_version < kApi1_7) return Reply(id, "this server has no model control for a model (backend API < 1.7)");
  const std::string name = JsonString(message, "model_name");
  if (name.empty()) return Reply(id, type + " needs a model_name");
  if (type == "model_unload") {
    auto dependents = message.FindMember("unload_dependents");
    const int cascade = dependents != message.MemberEnd() && dependents->value.IsTrue() ? 1 : 0;
    auto* call = new ControlCall{api_, outbox_, id};
    if (InferdError* e = api_->ModelUnload(name.c_str(), cascade, &ControlCall::OnDone, call)) {
      delete call;
      Reply(id, ErrorText(api_, e));
    }
    return;
  }
  auto version = message.FindMember("model_version");
  if (version == message.MemberEnd() || !version->value.IsInt64() || version->value.GetInt64() < -1) {
    return Reply(id, "model_ready needs a model_version, -1 for any");
  }
  int ready = 0;
  if (InferdError* e = api_->ModelIsReady(name.c_str(), version->value.GetInt64(), &ready)) {
    return Reply(id, ErrorText(api_, e));
  }
  rapidjson::Document answer(rapidjson::kObjectType);
  auto& alloc = answer.GetAllocator();
  answer.AddMember("id", id, alloc);
  answer.AddMember("final", true, alloc);
  answer.AddMember("ready", ready != 0, alloc);
  SendPacket(socket_, JsonText(answer), -1);
}

void StubChannel::HandleMetric(uint64_t id, const std::string& type, const rapidjson::Document& message) {
  rapidjson::Document answer(rapidjson::kObjectType);
  const std::string error = metrics_.Handle(type, message, &answer);
  if (!error.empty()) return Reply(id, error);
  answer.AddMember("id", id, answer.GetAllocator());
  answer.AddMember("final", true, answer.GetAllocator());
  SendPacket(socket_, JsonText(answer), -1);
}

void StubChannel::HandleIsCancelled(uint64_t id, const rapidjson::Document& message) {
  auto handle = message.FindMember("request");
  if (handle == message.MemberEnd() || !handle->value.IsUint64()) return Reply(id, "is_cancelled needs its request");
  bool cancelled = false;
  {
    // Held while asking: the request cannot be answered (and go) meanwhile.
    std::lock_guard<std::mutex> lock(mu_);
    auto it = requests_.find(handle->value.GetUint64());
    // An answered request is no longer listed: nothing is left to cancel.
    cancelled = it != requests_.end() && api_->RequestIsCancelled(it->second.request) != 0;
  }
  rapidjson::Document answer(rapidjson::kObjectType);
  answer.AddMember("id", id, answer.GetAllocator());
  answer.AddMember("final", true, answer.GetAllocator());
  answer.AddMember("cancelled", cancelled, answer.GetAllocator());
  SendPacket(socket_, JsonText(answer), -1);
}

void StubChannel::HandleLog(const rapidjson::Document& message) {
  const std::string level = JsonString(message, "level");
  const InferdLogLevel l = level == "ERROR"     ? INFERD_LOG_ERROR
                           : level == "WARNING" ? INFERD_LOG_WARN
                           : level == "VERBOSE" ? INFERD_LOG_VERBOSE
                                                : INFERD_LOG_INFO;
  const std::string text = "model '" + model_ + "': " + Cut(JsonString(message, "message"));
  api_->Log(l, "model.py", 0, text.c_str());
}

}  // namespace inferd_python
