// ResponseCache: answers a request whose inputs were seen before without
// running the model (--cache-config local,size=BYTES plus
// `response_cache { enable: true }` in a model's config).
//
// The key covers the model name and version, every input's name, datatype,
// shape and bytes, and the outputs asked for (with their class counts), so two
// requests share an entry only when they must get the same answer. Entries are
// evicted least recently used first to stay under the byte budget.
// Thread-safe.
#pragma once

#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/inference_response.h"

namespace inferd {

class InferenceRequest;

class ResponseCache {
 public:
  explicit ResponseCache(uint64_t capacity_bytes) : capacity_(capacity_bytes) {}

  // The key of `request` for the model version that serves it.
  static std::string Key(const InferenceRequest& request, const std::string& model, int64_t version);

  // Copies the cached outputs into `response`; false on a miss.
  bool Lookup(const std::string& key, InferenceResponse* response);
  // Stores a copy of the outputs of a successful response.
  void Insert(const std::string& key, const InferenceResponse& response);

  uint64_t bytes() const;
  size_t entries() const;
  uint64_t capacity() const { return capacity_; }

  // Totals since start, for the metrics.
  struct Counters {
    uint64_t lookups = 0, hits = 0, misses = 0, evictions = 0;
  };
  Counters counters() const;

 private:
  struct Entry {
    std::string key;
    std::vector<OutputTensor> outputs;
    std::vector<ResponseParameter> parameters;
    uint64_t bytes = 0;
  };
  void EvictUntilFits(uint64_t incoming);  // requires mu_

  const uint64_t capacity_;
  mutable std::mutex mu_;
  std::list<Entry> lru_;  // guarded by mu_; most recently used first
  std::unordered_map<std::string, std::list<Entry>::iterator> index_;  // guarded by mu_
  uint64_t bytes_ = 0;    // guarded by mu_
  Counters counters_;     // guarded by mu_
};

}  // namespace inferd
