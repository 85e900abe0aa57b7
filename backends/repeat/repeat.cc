// The repeat test backend, with the semantics of Triton's repeat backend
// (triton-inference-server/repeat_backend), for decoupled models: the values
// of input IN (INT32 [n]) come back one response each, with outputs OUT
// (INT32 [1], the value) and IDX (UINT32 [1], its position), each after the
// matching DELAY (UINT32 [n], milliseconds); then the end of the request, a
// final response without outputs. IN empty: only the end.
//
// As in Triton:
//  - every request is answered on a thread of its own, after Execute has
//    returned, so the responses of concurrent requests interleave (for a
//    model that is not decoupled, inside Execute, as inferd's ABI asks: the
//    core then takes the first response as the answer, as Triton does);
//  - DELAY must have IN's shape: otherwise the request gets one error and no
//    response at all;
//  - WAIT (UINT32 [1]) is how long Execute holds the instance before it
//    returns (and so before the instance takes its next request).
// Test models only. Sleeps are capped at 10 s and at most 64 requests are
// answered at once (more wait their turn), so no client parks the server.
#include <inferd/backend.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "../common/guard.h"
#include "../common/read_input.h"

namespace {

constexpr uint32_t kMaxDelayMs = 10000;
constexpr size_t kMaxConcurrentRequests = 64;

const InferdCoreApi* api = nullptr;

InferdError* Error(const std::string& m) { return api->ErrorNew(INFERD_ERROR_INVALID_ARG, m.c_str()); }

void SleepMs(uint32_t ms) { std::this_thread::sleep_for(std::chrono::milliseconds(std::min(ms, kMaxDelayMs))); }

struct Job {
  InferdRequest* request;
  std::vector<int32_t> values;
  std::vector<uint32_t> delays_ms;
};

// Answers jobs on worker threads started as needed (at most
// kMaxConcurrentRequests), so that requests are answered side by side.
class Responder {
 public:
  ~Responder() {
    std::vector<std::thread> workers;
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
      workers.swap(workers_);
    }
    cv_.notify_all();
    for (auto& w : workers) w.join();  // after every queued job is answered
  }

  void Add(Job job) {
    std::lock_guard<std::mutex> lock(mu_);
    jobs_.push_back(std::move(job));
    // More jobs waiting than idle workers to take them: an idle worker that
    // was notified but has not woken yet still counts as idle, so comparing
    // with the queue (not with zero) keeps two quick jobs from sharing it.
    if (jobs_.size() > idle_ && workers_.size() < kMaxConcurrentRequests) {
      workers_.emplace_back([this] { Work(); });
    } else {
      cv_.notify_one();
    }
  }

  // Sends the job's responses, then its final response.
  static void Answer(const Job& job);
  bool decoupled = true;  // from the model's config, set before any Execute

 private:
  void Work() {
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      ++idle_;
      cv_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
      --idle_;
      if (jobs_.empty()) return;  // stopping and drained
      Job job = std::move(jobs_.front());
      jobs_.pop_front();
      lock.unlock();
      Answer(job);
      lock.lock();
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> jobs_;              // guarded by mu_
  std::vector<std::thread> workers_;  // guarded by mu_
  size_t idle_ = 0;                   // workers waiting for a job; guarded by mu_
  bool stopping_ = false;             // guarded by mu_
};

void Responder::Answer(const Job& job) {
    for (size_t i = 0; i < job.values.size(); ++i) {
      SleepMs(job.delays_ms[i]);
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
    // The end of the request: a final response with no outputs.
    InferdResponse* last;
    if (InferdError* e = api->ResponseNew(job.request, &last)) {
      api->RequestRespondError(job.request, e);
      return;
    }
    api->ResponseSend(last, INFERD_RESPONSE_FINAL, nullptr);
}

std::string ShapeOf(const std::vector<uint32_t>& v) { return "[" + std::to_string(v.size()) + "]"; }

}  // namespace

extern "C" {

INFERD_EXPORT uint32_t InferdBackendApiVersion(void) { return INFERD_BACKEND_API_VERSION; }

INFERD_EXPORT InferdError* InferdBackendInitialize(const InferdCoreApi* core) {
  api = core;
  return nullptr;
}

INFERD_EXPORT InferdError* InferdInstanceInitialize(InferdInstance* instance) {
  return inferd_backend::Guarded(api, "repeat InferdInstanceInitialize", [&]() -> InferdError* {
    auto* responder = new Responder;
    const char* config = api->ModelConfigJson(api->InstanceModel(instance));
    responder->decoupled = config != nullptr && std::strstr(config, "\"decoupled\":true") != nullptr;
    api->InstanceSetState(instance, responder);
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
    uint32_t wait_ms = 0;
    for (uint32_t i = 0; i < count; ++i) {
      Job job{requests[i], {}, {}};
      std::vector<uint32_t> wait;
      if (inferd_backend::ReadInput(api, requests[i], "WAIT", &wait) && !wait.empty()) {
        wait_ms = std::max(wait_ms, wait[0]);
      }
      if (!inferd_backend::ReadInput(api, requests[i], "IN", &job.values)) {
        api->RequestRespondError(requests[i], Error("repeat: input IN (INT32) is missing"));
        continue;
      }
      inferd_backend::ReadInput(api, requests[i], "DELAY", &job.delays_ms);
      if (job.delays_ms.size() != job.values.size()) {
        api->RequestRespondError(requests[i], Error("repeat: expected IN and DELAY shape to match, got [" +
                                                    std::to_string(job.values.size()) + "] and " +
                                                    ShapeOf(job.delays_ms)));
        continue;
      }
      if (responder->decoupled) {
        responder->Add(std::move(job));
      } else {
        Responder::Answer(job);
      }
    }
    SleepMs(wait_ms);  // holds the instance, as Triton's does
    return nullptr;
  });
}

}  // extern "C"
