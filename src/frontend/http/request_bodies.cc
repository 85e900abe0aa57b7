#include "frontend/http/request_bodies.h"

#include <rapidjson/document.h>

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
      // Dependents are ensembles, which this build does not have: nothing to do.
    } else {
      return Status::InvalidArg("unknown load/unload parameter '" + key + "'");
    }
  }
  return Status::Ok();
}

}  // namespace inferd::http
