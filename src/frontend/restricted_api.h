// Restricted APIs, as Triton has them: --http-restricted-api and
// --grpc-restricted-protocol take "<group>[,<group>...]:<key>=<value>", and a
// call to an API of a restricted group is refused unless it carries the
// header <key> (HTTP; gRPC: metadata "triton-grpc-protocol-<key>") with
// exactly <value>. A production server restricts model-repository (the load
// API) this way, or turns it off with --model-control-mode=none.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"

namespace inferd {

// Triton's API groups; every endpoint and RPC belongs to one.
enum class ApiGroup {
  kHealth,
  kMetadata,
  kInference,
  kSharedMemory,
  kModelConfig,
  kModelRepository,
  kStatistics,
  kTrace,
  kLogging,
};
constexpr size_t kApiGroupCount = 9;

// "health", "model-repository", ...
const char* ApiGroupName(ApiGroup group);

class RestrictedApis {
 public:
  struct Rule {
    std::string key;    // the header (HTTP: compared without case)
    std::string value;  // compared exactly
  };

  // Adds one flag value. Fails, naming `flag`, for a malformed value, an
  // unknown group, or a group already restricted by an earlier value.
  Status Add(const std::string& flag, const std::string& text);

  // The rule of `group`; null when it is open to everyone.
  const Rule* RuleFor(ApiGroup group) const {
    const auto& rule = rules_[static_cast<size_t>(group)];
    return rule ? &*rule : nullptr;
  }
  bool empty() const;

 private:
  std::array<std::optional<Rule>, kApiGroupCount> rules_;
};

}  // namespace inferd
