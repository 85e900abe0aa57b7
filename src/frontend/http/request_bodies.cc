#include "frontend/http/request_bodies.h"

#include <rapidjson/document.h>

#include <algorithm>

#include "common/json_parse.h"
#include "frontend/http/base64.h"

namespace inferd::http {
namespace {

Status ParseObject(std::string_view body, const char* what, rapidjson::Document* doc) {
  std::string why;
  if (!ParseJson(body, doc, &why) || !doc->IsObject()) {
    return Status::InvalidArg(std::string(what) + " must be a JSON object" + (why.empty() ? "" : ": " + why));
  }
  return Status::Ok();
}

std::string_view Text(const rapidjson::Value& v) { return {v.GetString(), v.GetStringLength()}; }

}  // namespace

Status ParseRepositoryIndexBody(std::string_view body, bool* ready_only) {
  *ready_only = false;
  if (body.empty()) return Status::Ok();
  rapidjson::Document doc;
  INFERD_RETURN_IF_ERROR(ParseObject(body, "the repository index request body", &doc));
  if (auto ready = doc.FindMember("ready"); ready != doc.MemberEnd()) {
    if (!ready->value.IsBool()) return Status::InvalidArg("repository index 'ready' must be a boolean");
    *ready_only = ready->value.GetBool();
  }
  return Status::Ok();
}

Status ParseLoadRequestBody(std::string_view body, LoadOverrides* overrides) {
  if (body.empty()) return Status::Ok();
  rapidjson::Document doc;
  INFERD_RETURN_IF_ERROR(ParseObject(body, "the body of a load/unload request", &doc));
  auto params = doc.FindMember("parameters");
  if (params == doc.MemberEnd()) return Status::Ok();
  if (!params->value.IsObject()) return Status::InvalidArg("'parameters' must be an object");
  for (const auto& p : params->value.GetObject()) {
    const std::string key(Text(p.name));
    if (key == "config") {
      if (!p.value.IsString()) return Status::InvalidArg("'config' must be a JSON string");
      overrides->config_json = Text(p.value);
    } else if (key.rfind("file:", 0) == 0) {
      std::string content;
      if (!p.value.IsString() || !Base64Decode(Text(p.value), &content)) {
        return Status::InvalidArg("parameter '" + key + "' must be base64 text");
      }
      overrides->files[key.substr(5)] = std::move(content);
    } else if (key == "unload_dependents") {
      if (!p.value.IsBool()) return Status::InvalidArg("'unload_dependents' must be a boolean");
      overrides->unload_dependents = p.value.GetBool();
    } else {
      return Status::InvalidArg("unknown load/unload parameter '" + key + "'");
    }
  }
  return Status::Ok();
}

Status ParseLogSettingsBody(std::string_view body, LogSettings* settings) {
  if (body.empty()) return Status::Ok();
  rapidjson::Document doc;
  INFERD_RETURN_IF_ERROR(ParseObject(body, "the logging request body", &doc));
  LogSettings next = *settings;
  for (const auto& m : doc.GetObject()) {
    const rapidjson::Value& v = m.value;
    if (v.IsNull()) continue;  // as Triton: null leaves a setting as it is
    LogSettingValue value;
    if (v.IsBool()) {
      value.type = LogSettingValue::Type::kBool;
      value.boolean = v.GetBool();
    } else if (v.IsUint64()) {
      value.type = LogSettingValue::Type::kUnsigned;
      value.number = v.GetUint64();
    } else if (v.IsString()) {
      value.type = LogSettingValue::Type::kString;
      value.text = Text(v);
    }
    INFERD_RETURN_IF_ERROR(ApplyLogSetting(std::string(Text(m.name)), value, &next));
  }
  *settings = next;  // all or nothing
  return Status::Ok();
}

Status ParseTraceSettingsBody(std::string_view body, std::vector<TraceSettingChange>* changes) {
  if (body.empty()) return Status::Ok();
  rapidjson::Document doc;
  INFERD_RETURN_IF_ERROR(ParseObject(body, "the trace setting request body", &doc));
  for (const auto& m : doc.GetObject()) {
    const std::string name(Text(m.name));
    const rapidjson::Value& v = m.value;
    if (v.IsNull()) {  // clears the setting
      changes->emplace_back(name, std::nullopt);
      continue;
    }
    // Triton sends strings ("trace_rate": "10") and a list for the level;
    // a plain number is taken too.
    std::vector<std::string> values;
    auto add = [&](const rapidjson::Value& item) {
      if (item.IsString()) values.emplace_back(Text(item));
      else if (item.IsInt64()) values.push_back(std::to_string(item.GetInt64()));
      else return false;
      return true;
    };
    bool ok = true;
    if (v.IsArray()) {
      for (const auto& item : v.GetArray()) ok = ok && add(item);
    } else {
      ok = add(v);
    }
    if (!ok) {
      return Status::InvalidArg("trace setting '" + name +
                                "' must be a string, an integer, a list of strings or null");
    }
    changes->emplace_back(name, std::move(values));
  }
  return Status::Ok();
}

Status ParseSharedMemoryRegisterBody(std::string_view body, SharedMemoryRegisterBody* out) {
  rapidjson::Document doc;
  INFERD_RETURN_IF_ERROR(ParseObject(body, "a shared memory register request", &doc));
  auto key = doc.FindMember("key");
  if (key == doc.MemberEnd()) return Status::InvalidArg("Shared memory register request has no 'key' field");
  if (!key->value.IsString()) return Status::InvalidArg("shared memory register 'key' must be a string");
  out->key = Text(key->value);
  if (auto offset = doc.FindMember("offset"); offset != doc.MemberEnd()) {
    if (!offset->value.IsUint64()) {
      return Status::InvalidArg("shared memory register 'offset' must be a non-negative integer");
    }
    out->offset = offset->value.GetUint64();
  }
  auto size = doc.FindMember("byte_size");
  if (size == doc.MemberEnd()) {
    return Status::InvalidArg("Shared memory register request has no 'byte_size' field");
  }
  if (!size->value.IsUint64()) {
    return Status::InvalidArg("shared memory register 'byte_size' must be a non-negative integer");
  }
  out->byte_size = size->value.GetUint64();
  return Status::Ok();
}

}  // namespace inferd::http
