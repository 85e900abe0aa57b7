#include "load_generator.h"

namespace inferd::perf {

void WindowStats::Merge(const WindowStats& o) {
  latency.Merge(o.latency);
  send_ns += o.send_ns;
  wait_ns += o.wait_ns;
  receive_ns += o.receive_ns;
  errors += o.errors;
  delayed += o.delayed;
  if (first_error.empty()) first_error = o.first_error;
}

LoadGenerator::LoadGenerator(ClientFactory factory, std::vector<client::InferRequest> requests,
                             bool streaming)
    : factory_(std::move(factory)), requests_(std::move(requests)), streaming_(streaming) {}

LoadGenerator::~LoadGenerator() { Stop(); }

Status LoadGenerator::StartWorkers(size_t n, std::function<void(Worker*)> loop) {
  Stop();
  workers_.clear();
  for (size_t i = 0; i < n; ++i) {
    auto w = std::make_unique<Worker>();
    w->client = factory_();
    // The request is encoded once per worker, outside the measurement.
    INFERD_RETURN_IF_ERROR(w->client->Prepare(requests_.front()));
    workers_.push_back(std::move(w));
  }
  running_ = true;
  Reset();
  for (auto& w : workers_) w->thread = std::thread([w = w.get(), loop] { loop(w); });
  return Status::Ok();
}

void LoadGenerator::Send(Worker* w, size_t* next_request) {
  if (requests_.size() > 1) {
    // Several input data sets: re-encoded per request, before the clock starts.
    w->client->Prepare(requests_[*next_request % requests_.size()]);
    ++*next_request;
  }
  client::RequestTiming timing;
  const auto start = std::chrono::steady_clock::now();
  size_t responses = 0;
  Status st = streaming_ ? w->client->StreamInfer(&timing, &responses) : w->client->Infer(&timing, nullptr);
  const uint64_t ns = static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - start).count());
  {
    std::lock_guard<std::mutex> lock(w->mu);
    if (st.ok()) {
      w->stats.latency.Record(ns);
      w->stats.send_ns += timing.send_ns;
      w->stats.wait_ns += timing.response_wait_ns;
      w->stats.receive_ns += timing.receive_ns;
    } else {
      if (w->stats.errors++ == 0) w->stats.first_error = st.message();
    }
  }
  completed_.fetch_add(1, std::memory_order_relaxed);
}

Status LoadGenerator::StartConcurrency(size_t concurrency) {
  return StartWorkers(concurrency, [this](Worker* w) {
    size_t next = 0;
    while (running_.load(std::memory_order_relaxed)) Send(w, &next);
  });
}

Status LoadGenerator::StartRate(double rate, Distribution distribution, size_t threads) {
  {
    std::lock_guard<std::mutex> lock(pacer_mu_);
    pacer_ = std::make_unique<Pacer>(rate, distribution);
    rate_start_ = std::chrono::steady_clock::now();
  }
  return StartWorkers(threads, [this](Worker* w) {
    size_t next = 0;
    while (running_.load(std::memory_order_relaxed)) {
      std::chrono::steady_clock::time_point at;
      {
        std::lock_guard<std::mutex> lock(pacer_mu_);
        at = rate_start_ + std::chrono::nanoseconds(pacer_->Next());
      }
      // Sleep in short steps so that Stop is not held up by a slow rate.
      while (running_.load(std::memory_order_relaxed) && std::chrono::steady_clock::now() < at) {
        std::this_thread::sleep_until(std::min(at, std::chrono::steady_clock::now() + std::chrono::milliseconds(50)));
      }
      if (!running_.load(std::memory_order_relaxed)) break;
      if (std::chrono::steady_clock::now() - at > std::chrono::milliseconds(1)) {
        std::lock_guard<std::mutex> lock(w->mu);
        ++w->stats.delayed;
      }
      Send(w, &next);
    }
  });
}

void LoadGenerator::Stop() {
  running_ = false;
  for (auto& w : workers_)
    if (w->thread.joinable()) w->thread.join();
}

void LoadGenerator::Reset() {
  for (auto& w : workers_) {
    std::lock_guard<std::mutex> lock(w->mu);
    w->stats = WindowStats();
  }
  completed_ = 0;
  window_start_ = std::chrono::steady_clock::now();
}

WindowStats LoadGenerator::Collect() {
  WindowStats total;
  const auto now = std::chrono::steady_clock::now();
  for (auto& w : workers_) {
    std::lock_guard<std::mutex> lock(w->mu);
    total.Merge(w->stats);
    w->stats = WindowStats();
  }
  completed_ = 0;
  total.seconds = std::chrono::duration<double>(now - window_start_).count();
  window_start_ = now;
  return total;
}

uint64_t LoadGenerator::Completed() const { return completed_.load(std::memory_order_relaxed); }

}  // namespace inferd::perf
