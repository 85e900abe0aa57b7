#include "frontend/restricted_api.h"

namespace inferd {
namespace {

constexpr std::array<const char*, kApiGroupCount> kNames = {
    "health", "metadata", "inference", "shared-memory", "model-config",
    "model-repository", "statistics", "trace", "logging"};

}  // namespace

const char* ApiGroupName(ApiGroup group) { return kNames[static_cast<size_t>(group)]; }

bool RestrictedApis::empty() const {
  for (const auto& rule : rules_)
    if (rule) return false;
  return true;
}

Status RestrictedApis::Add(const std::string& flag, const std::string& text) {
  const size_t colon = text.find(':');
  const size_t equals = colon == std::string::npos ? std::string::npos : text.find('=', colon + 1);
  if (colon == 0 || equals == std::string::npos || equals == colon + 1 || equals + 1 == text.size()) {
    return Status::InvalidArg(flag + " takes '<api>[,<api>...]:<key>=<value>', got '" + text + "'");
  }
  Rule rule{text.substr(colon + 1, equals - colon - 1), text.substr(equals + 1)};
  // Triton's words (its QA greps them): gRPC's flag names "protocols".
  const std::string noun = flag.find("grpc") != std::string::npos ? "protocol" : "api";
  std::string_view groups(text.data(), colon);
  while (true) {
    const size_t comma = groups.find(',');
    const std::string_view name = groups.substr(0, comma);
    size_t index = kApiGroupCount;
    for (size_t i = 0; i < kApiGroupCount; ++i)
      if (name == kNames[i]) index = i;
    if (index == kApiGroupCount) {
      std::string known;
      for (const char* n : kNames) known += (known.empty() ? "" : ", ") + std::string(n);
      return Status::InvalidArg(flag + ": unknown restricted " + noun + " '" + std::string(name) +
                                "' (known: " + known + ")");
    }
    if (rules_[index]) {
      return Status::InvalidArg(flag + ": " + noun + " '" + std::string(name) +
                                "' can not be specified in multiple config groups");
    }
    rules_[index] = rule;
    if (comma == std::string_view::npos) break;
    groups.remove_prefix(comma + 1);
  }
  return Status::Ok();
}

}  // namespace inferd
