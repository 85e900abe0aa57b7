// The repeat test backend (Triton's semantics), for decoupled models: the
// values of input IN (INT32 [n]) come back one response each, with outputs
// OUT (INT32 [1], the value) and IDX (UINT32 [1], its position). Input DELAY
// (UINT32 [n]) is the milliseconds to wait before each response; WAIT
// (UINT32 [1]) the milliseconds to wait after the last one before the request
// is released. IN empty: no response, only the end of the request.
//
// Responses are sent from a responder thread of the instance, after Execute
// has returned, as a decoupled backend may. When DELAY has fewer elements
// than IN, the values with a delay are sent, then the request ends with an
// error: that is how a test sees an error in the middle of a stream.
#include <inferd/backend.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "../common/guard.h"
#include "../common/read_input.h"

namespace {

// A test model's client-chosen sleeps are bounded: no request parks its thread for long.
constexpr uint32_t kMaxDelayMs = 10000;

const InferdCoreApi* api = nullptr;

InferdError* Error(const std::string& m) { return api->ErrorNew(INFERD_ERROR_INVALID_ARG, m.c_str()); }

struct Job {
  InferdRequest* request;
  std::vector<int32_t> values;
  std::vector<uint32_t> delays_ms;
  uint32_t wait_ms;
};

// One responder thread per instance; jobs run in arrival order.
class Responder {
 public:
  Responder() : thread_([this] { Run(); }) {}
  ~Responder() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
    }
    cv_.notify_one();
    thread_.join();  // after every queued job is answered
  }
  void Add(Job job) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      jobs_.push_back(std::move(job));
    }
    cv_.notify_one();
  }

 private:
  void Run() {
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      cv_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
      if (jobs_.empty()) return;  // stopping and drained
      Job job = std::move(jobs_.front());
      jobs_.pop_front();
      lock.unlock();
      Answer(job);
      lock.lock();
    }
  }

  static void Answer(const Job& job) {
    for (size_t i = 0; i < job.values.size(); ++i) {
      if (i >= job.delays_ms.size()) {
        api->RequestRespondError(job.request,
                                 Error("repeat: DELAY has " + std::to_string(job.delays_ms.size()) +
                                       " elements, IN has " + std::to_string(job.values.size())));
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(std::min(job.delays_ms[i], kMaxDelayMs)));
      InferdResponse* response;
      if (InferdError* e = api->ResponseNew(job.request, &response)) {
        api->RequestRespondError(job.request, e);
        return;
      }
      const int64_t shape[1] = {1};
      void* out;
      InferdError* e = api->ResponseOutput(response, "OUT", INFERD_TYPE_INT32, shape, 1, 4, &out);
      if (!e) std::memcpy(out, &job.values[i], 4);
      const uint32_t index = static_cast<uint32_t>(i);
      if (!e) e = api->ResponseOutput(response, "IDX", INFERD_TYPE_UINT32, shape, 1, 4, &out);
      if (!e) std::memcpy(out, &index, 4);
      api->ResponseSend(response, 0, e);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(std::min(job.wait_ms, kMaxDelayMs)));
    // The end of the request: a final response with no outputs.
    InferdResponse* last;
    if (InferdError* e = api->ResponseNew(job.request, &last)) {
      api->RequestRespondError(job.request, e);
      return;
    }
    api->ResponseSend(last, INFERD_RESPONSE_FINAL, nullptr);
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> jobs_;  // guarded by mu_
  bool stopping_ = false; // guarded by mu_
  std::thread thread_;
};

}  // namespace

extern "C" {

INFERD_EXPORT uint32_t InferdBackendApiVersion(void) { return INFERD_BACKEND_API_VERSION; }

INFERD_EXPORT InferdError* InferdBackendInitialize(const InferdCoreApi* core) {
  api = core;
  return nullptr;
}

INFERD_EXPORT InferdError* InferdInstanceInitialize(InferdInstance* instance) {
  return inferd_backend::Guarded(api, "repeat InferdInstanceInitialize", [&]() -> InferdError* {
    api->InstanceSetState(instance, new Responder);
    return nullptr;
  });
}

INFERD_EXPORT InferdError* InferdInstanceFinalize(InferdInstance* instance) {
  delete static_cast<Responder*>(api->InstanceState(instance));
  return nullptr;
}

INFERD_EXPORT InferdError* InferdInstanceExecute(InferdInstance* instance, InferdRequest** requests,
                                                 uint32_t count) {
  return inferd_backend::Guarded(api, "repeat InferdInstanceExecute", [&]() -> InferdError* {
    auto* responder = static_cast<Responder*>(api->InstanceState(instance));
    for (uint32_t i = 0; i < count; ++i) {
      Job job{requests[i], {}, {}, 0};
      std::vector<uint32_t> wait;
      if (!inferd_backend::ReadInput(api, requests[i], "IN", &job.values)) {
        api->RequestRespondError(requests[i], Error("repeat: input IN (INT32) is missing"));
        continue;
      }
      inferd_backend::ReadInput(api, requests[i], "DELAY", &job.delays_ms);
      if (inferd_backend::ReadInput(api, requests[i], "WAIT", &wait) && !wait.empty()) job.wait_ms = wait[0];
      responder->Add(std::move(job));
    }
    return nullptr;
  });
}

}  // extern "C"
