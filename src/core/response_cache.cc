#include "core/response_cache.h"

#include <cstring>

#include "core/inference_request.h"

namespace inferd {
namespace {

// Appends a length-prefixed field, so that field boundaries are part of the key.
void Field(std::string* key, const void* data, size_t size) {
  const uint64_t n = size;
  key->append(reinterpret_cast<const char*>(&n), sizeof n);
  key->append(static_cast<const char*>(data), size);
}

void Field(std::string* key, const std::string& s) { Field(key, s.data(), s.size()); }

OutputTensor Copy(const OutputTensor& o) {
  OutputTensor c;
  c.name = o.name;
  c.datatype = o.datatype;
  c.shape = o.shape;
  c.byte_size = o.byte_size;
  c.data = AllocateTensorBuffer(o.byte_size);
  std::memcpy(c.data.get(), o.data.get(), o.byte_size);
  return c;
}

}  // namespace

std::string ResponseCache::Key(const InferenceRequest& r, const std::string& model, int64_t version) {
  // The key holds the input bytes themselves (not a hash of them): no two
  // different requests can ever share an answer. Its size counts against the budget.
  std::string key;
  Field(&key, model);
  Field(&key, &version, sizeof version);
  for (const auto& in : r.inputs) {
    Field(&key, in.name);
    Field(&key, &in.datatype, sizeof in.datatype);
    Field(&key, in.shape.data(), in.shape.size() * sizeof(int64_t));
    Field(&key, &in.byte_size, sizeof in.byte_size);
    for (const auto& [data, size] : in.buffers) key.append(data, size);
  }
  for (const auto& name : r.output_names) {
    Field(&key, name);
    const RequestedOutput* asked = r.FindRequestedOutput(name);
    const uint32_t classes = asked ? asked->classification_count : 0;
    Field(&key, &classes, sizeof classes);
  }
  return key;
}

bool ResponseCache::Lookup(const std::string& key, InferenceResponse* response) {
  std::lock_guard<std::mutex> lock(mu_);
  ++counters_.lookups;
  auto it = index_.find(key);
  if (it == index_.end()) {
    ++counters_.misses;
    return false;
  }
  ++counters_.hits;
  lru_.splice(lru_.begin(), lru_, it->second);
  for (const auto& o : it->second->outputs) response->outputs.push_back(Copy(o));
  response->parameters = it->second->parameters;
  return true;
}

void ResponseCache::Insert(const std::string& key, const InferenceResponse& response) {
  Entry entry;
  entry.key = key;
  entry.bytes = key.size();
  for (const auto& o : response.outputs) {
    entry.outputs.push_back(Copy(o));
    entry.bytes += o.byte_size + o.name.size();
  }
  entry.parameters = response.parameters;
  for (const auto& p : response.parameters) entry.bytes += p.name.size() + p.text.size() + sizeof(p);
  if (entry.bytes > capacity_) return;  // would never fit
  std::lock_guard<std::mutex> lock(mu_);
  if (index_.count(key)) return;  // another request stored it meanwhile
  EvictUntilFits(entry.bytes);
  bytes_ += entry.bytes;
  lru_.push_front(std::move(entry));
  index_[lru_.front().key] = lru_.begin();
}

void ResponseCache::EvictUntilFits(uint64_t incoming) {
  while (!lru_.empty() && bytes_ + incoming > capacity_) {
    bytes_ -= lru_.back().bytes;
    index_.erase(lru_.back().key);
    lru_.pop_back();
    ++counters_.evictions;
  }
}

uint64_t ResponseCache::bytes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return bytes_;
}

ResponseCache::Counters ResponseCache::counters() const {
  std::lock_guard<std::mutex> lock(mu_);
  return counters_;
}

size_t ResponseCache::entries() const {
  std::lock_guard<std::mutex> lock(mu_);
  return lru_.size();
}

}  // namespace inferd
