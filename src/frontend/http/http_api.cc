#include "frontend/http/http_api.h"

#include <algorithm>
#include <boost/container/small_vector.hpp>
#include <charconv>
#include <optional>
#include <thread>

#include "common/logging.h"
#include "core/model.h"
#include "core/trace.h"
#include "frontend/http/api_json.h"
#include "frontend/http/compression.h"
#include "frontend/http/infer_codec.h"
#include "frontend/http/request_bodies.h"

namespace inferd::http {
namespace beast_http = boost::beast::http;
namespace {

constexpr const char* kInferHeaderLength = "Inference-Header-Content-Length";

beast_http::status HttpStatusOf(Status::Code code) {
  switch (code) {
    case Status::Code::kOk: return beast_http::status::ok;
    case Status::Code::kInvalidArg: return beast_http::status::bad_request;
    case Status::Code::kNotFound: return beast_http::status::not_found;
    case Status::Code::kUnavailable: return beast_http::status::service_unavailable;
    // As Triton: UNSUPPORTED is 501, ALREADY_EXISTS has no code of its own (400).
    case Status::Code::kUnsupported: return beast_http::status::not_implemented;
    case Status::Code::kAlreadyExists: return beast_http::status::bad_request;
    case Status::Code::kResourceExhausted: return beast_http::status::payload_too_large;
    case Status::Code::kPermissionDenied: return beast_http::status::forbidden;
    case Status::Code::kCancelled: return beast_http::status::bad_request;  // Triton's choice too
    default: return beast_http::status::internal_server_error;
  }
}

HttpResponse Json(beast_http::status code, std::string body, const HttpRequest& req) {
  HttpResponse res(code, req.version());
  res.set(beast_http::field::content_type, "application/json");
  res.keep_alive(req.keep_alive());
  res.body().text = std::move(body);
  res.prepare_payload();
  return res;
}

HttpResponse Empty(beast_http::status code, const HttpRequest& req) {
  HttpResponse res(code, req.version());
  res.keep_alive(req.keep_alive());
  res.prepare_payload();
  return res;
}

// A request path's segments; inline for the depths the API has (at most 7:
// /v2/models/M/versions/V/trace/setting), so splitting does not allocate.
using PathParts = boost::container::small_vector<std::string_view, 8>;

PathParts Split(std::string_view path) {
  PathParts parts;
  size_t q = path.find('?');
  if (q != std::string_view::npos) path = path.substr(0, q);
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    if (end > start) parts.push_back(path.substr(start, end - start));
    start = end + 1;
  }
  return parts;
}

bool ParseVersion(std::string_view s, int64_t* out) {
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && ptr == s.data() + s.size() && *out >= 0;
}

// The API group of a path, as Triton groups its endpoints (for
// --http-restricted-api); none for a path no endpoint has.
std::optional<ApiGroup> GroupOf(const PathParts& parts) {
  if (parts.empty() || parts[0] != "v2") return std::nullopt;
  if (parts.size() == 1) return ApiGroup::kMetadata;
  const std::string_view area = parts[1];
  if (area == "health") return ApiGroup::kHealth;
  if (area == "repository") return ApiGroup::kModelRepository;
  if (area == "systemsharedmemory" || area == "cudasharedmemory") return ApiGroup::kSharedMemory;
  if (area == "trace") return ApiGroup::kTrace;
  if (area == "logging") return ApiGroup::kLogging;
  if (area != "models") return std::nullopt;
  if (parts.size() == 3 && parts[2] == "stats") return ApiGroup::kStatistics;
  const size_t next = parts.size() > 4 && parts[3] == "versions" ? 5 : 3;
  const std::string_view action = parts.size() > next ? parts[next] : "";
  if (action.empty()) return ApiGroup::kMetadata;
  if (action == "ready") return ApiGroup::kHealth;
  if (action == "infer" || action == "generate" || action == "generate_stream") return ApiGroup::kInference;
  if (action == "config") return ApiGroup::kModelConfig;
  if (action == "stats") return ApiGroup::kStatistics;
  if (action == "trace") return ApiGroup::kTrace;
  return std::nullopt;
}

// The body of a successful inference response: JSON, binary outputs after
// it, compressed when the client asked for it.
void EncodeResponse(InferenceResponse* response, Encoding encoding, HttpResponse* res) {
  EncodedResponse encoded;
  EncodeInferResponse(*response, &encoded);
  if (encoded.header_length) {
    res->set(beast_http::field::content_type, "application/octet-stream");
    res->set(kInferHeaderLength, std::to_string(*encoded.header_length));
  } else {
    res->set(beast_http::field::content_type, "application/json");
  }
  if (encoding != Encoding::kIdentity) {
    std::string whole = std::move(encoded.body);
    for (std::string_view bytes : encoded.binary) whole.append(bytes);
    res->body().text = Compress(encoding, whole);
    res->set(beast_http::field::content_encoding, EncodingName(encoding));
    return;
  }
  // Binary outputs are written from the response's own buffers: their
  // memory moves with the outputs into the body's owner.
  res->body().text = std::move(encoded.body);
  for (std::string_view bytes : encoded.binary) res->body().tail.emplace_back(bytes.data(), bytes.size());
  if (!encoded.binary.empty())
    res->body().owner = std::make_shared<const std::vector<OutputTensor>>(std::move(response->outputs));
}

}  // namespace

HttpResponse HttpApi::Error(const Status& status, unsigned version, bool keep_alive) {
  HttpResponse res(HttpStatusOf(status.code()), version);
  // Every rejected request passes here: visible with --log-verbose=1, as in Triton.
  LOG_VERBOSE("HTTP request failed ({}): {}", res.result_int(), status.message());
  res.set(beast_http::field::content_type, "application/json");
  res.keep_alive(keep_alive);
  res.body().text = ErrorJson(status.message());
  res.prepare_payload();
  return res;
}

HttpApi::HttpApi(Server* core, HttpApiOptions options)
    : core_(core), options_(std::move(options)),
      decode_pool_(std::make_unique<boost::asio::thread_pool>(
          std::max(1u, std::thread::hardware_concurrency() / 2))) {}

HttpApi::~HttpApi() { decode_pool_->join(); }

void HttpApi::Handle(HttpRequest&& req, const HttpReadTimes& read_times, Responder respond) {
  const auto parts = Split(req.target());
  // Restricted APIs answer 403 before anything else (method, model) is looked at.
  if (auto group = GroupOf(parts)) {
    if (const RestrictedApis::Rule* rule = options_.restricted.RuleFor(*group)) {
      auto header = req.find(rule->key);  // field names compare without case
      if (header == req.end() || header->value() != rule->value) {
        return respond(Error(Status::PermissionDenied("This API is restricted, expecting header '" +
                                                      rule->key + "'"),
                             req.version(), req.keep_alive()));
      }
    }
  }
  const bool get = req.method() == beast_http::verb::get;
  const bool post = req.method() == beast_http::verb::post;
  auto error = [&](const Status& st) { respond(Error(st, req.version(), req.keep_alive())); };
  auto method_not_allowed = [&] {
    respond(Json(beast_http::status::method_not_allowed,
                 ErrorJson(std::string(req.method_string()) + " is not allowed on " +
                           std::string(req.target())),
                 req));
  };

  if (parts.empty() || parts[0] != "v2") {
    return error(Status::NotFound("no endpoint " + std::string(req.target())));
  }
  // /v2
  if (parts.size() == 1) {
    if (!get) return method_not_allowed();
    return respond(Json(beast_http::status::ok, ServerMetadataJson(core_->options().id, INFERD_VERSION), req));
  }
  // /v2/health/{live,ready}
  if (parts[1] == "health" && parts.size() == 3) {
    if (!get) return method_not_allowed();
    bool ok = parts[2] == "live" ? core_->Live() : parts[2] == "ready" ? core_->Ready() : false;
    if (parts[2] != "live" && parts[2] != "ready") {
      return error(Status::NotFound("no endpoint " + std::string(req.target())));
    }
    return respond(Empty(ok ? beast_http::status::ok : beast_http::status::service_unavailable, req));
  }
  // /v2/logging: GET reads the log settings, POST changes them.
  if (parts[1] == "logging" && parts.size() == 2) {
    if (!get && !post) return method_not_allowed();
    if (post) {
      LogSettings settings = CurrentLogSettings();
      Status st = ParseLogSettingsBody(req.body(), &settings);
      if (!st.ok()) return error(st);
      UpdateLogSettings(settings);
    }
    return respond(Json(beast_http::status::ok, LogSettingsJson(CurrentLogSettings()), req));
  }
  // /v2/trace/setting: GET reads the global trace settings, POST changes them.
  if (parts[1] == "trace" && parts.size() == 3 && parts[2] == "setting") {
    if (!get && !post) return method_not_allowed();
    return HandleTraceSetting(req, "", std::move(respond));
  }
  // /v2/repository/index, /v2/repository/models/{m}/{load,unload}
  if (parts[1] == "repository") {
    if (!post) return method_not_allowed();
    if (parts.size() == 3 && parts[2] == "index") {
      bool ready_only = false;
      Status st = ParseRepositoryIndexBody(req.body(), &ready_only);
      if (!st.ok()) return error(st);
      return respond(Json(beast_http::status::ok,
                          RepositoryIndexJson(core_->RepositoryIndex(), ready_only), req));
    }
    if (parts.size() == 5 && parts[2] == "models" && (parts[4] == "load" || parts[4] == "unload")) {
      return HandleLoadUnload(std::move(req), std::string(parts[3]), parts[4] == "load",
                              std::move(respond));
    }
    return error(Status::NotFound("no endpoint " + std::string(req.target())));
  }
  // /v2/{system,cuda}sharedmemory[/region/{name}]/{status,register,unregister}
  if (parts[1] == "systemsharedmemory" || parts[1] == "cudasharedmemory") {
    const bool named = parts.size() == 5 && parts[2] == "region";
    if (!named && parts.size() != 3) return error(Status::NotFound("no endpoint " + std::string(req.target())));
    const std::string_view action = parts.back();
    if (action != "status" && action != "register" && action != "unregister") {
      return error(Status::NotFound("no endpoint " + std::string(req.target())));
    }
    if (action == "status" ? !get : !post) return method_not_allowed();
    const std::string region = named ? std::string(parts[3]) : std::string();
    std::string body;
    Status st = parts[1] == "systemsharedmemory"
                    ? HandleSystemSharedMemory(action, region, req.body(), &body)
                    : HandleCudaSharedMemory(action, region, &body);
    if (!st.ok()) return error(st);
    if (body.empty()) return respond(Empty(beast_http::status::ok, req));
    return respond(Json(beast_http::status::ok, std::move(body), req));
  }
  if (parts[1] != "models") return error(Status::NotFound("no endpoint " + std::string(req.target())));

  // /v2/models/stats
  if (parts.size() == 3 && parts[2] == "stats") {
    if (!get) return method_not_allowed();
    return respond(Json(beast_http::status::ok, ModelStatsJson(core_->LoadedModels()), req));
  }
  if (parts.size() < 3) return error(Status::NotFound("no endpoint " + std::string(req.target())));
  // /v2/models/{m}[/versions/{v}][/{action}]
  const std::string model_name(parts[2]);
  size_t next = 3;
  int64_t version = -1;
  if (parts.size() > 4 && parts[3] == "versions") {
    if (!ParseVersion(parts[4], &version)) {
      return error(Status::InvalidArg("failed to get model version from specified version string '" +
                                      std::string(parts[4]) + "' (model '" + model_name +
                                      "': a version is a non-negative integer)"));
    }
    next = 5;
  }
  // /v2/models/{m}/trace/setting: one model's trace settings.
  if (parts.size() == next + 2 && parts[next] == "trace" && parts[next + 1] == "setting") {
    if (!get && !post) return method_not_allowed();
    return HandleTraceSetting(req, model_name, std::move(respond));
  }
  if (parts.size() > next + 1) return error(Status::NotFound("no endpoint " + std::string(req.target())));
  const std::string_view action = parts.size() == next ? "" : parts[next];

  if (action == "infer") {
    if (!post) return method_not_allowed();
    return HandleInfer(std::move(req), read_times, model_name, version, std::move(respond));
  }
  if (!get) return method_not_allowed();
  std::shared_ptr<Model> model;
  Status st = core_->GetModel(model_name, version, &model);
  if (action == "ready") {
    return respond(Empty(st.ok() ? beast_http::status::ok : beast_http::status::bad_request, req));
  }
  if (action == "stats") {
    if (!st.ok()) return error(st);
    return respond(Json(beast_http::status::ok,
                        ModelStatsJson(version < 0 ? core_->LoadedModels(model_name)
                                                   : std::vector<std::shared_ptr<Model>>{model}),
                        req));
  }
  if (!st.ok()) return error(st);
  if (action == "config") {
    // Not compressed even when the client offers gzip: Triton compresses only
    // inference answers, and tritonclient.http.aio offers gzip without
    // decompressing anything else.
    return respond(Json(beast_http::status::ok, model->config_json(), req));
  }
  if (action.empty()) {
    std::vector<int64_t> versions;
    for (const auto& m : core_->LoadedModels(model_name)) versions.push_back(m->version());
    return respond(Json(beast_http::status::ok, ModelMetadataJson(*model, versions), req));
  }
  return error(Status::NotFound("no endpoint " + std::string(req.target())));
}

void HttpApi::HandleTraceSetting(const HttpRequest& req, const std::string& model, Responder respond) {
  auto error = [&](const Status& st) { respond(Error(st, req.version(), req.keep_alive())); };
  if (!model.empty()) {
    std::shared_ptr<Model> found;
    // Triton's words for a model that is not ready.
    if (!core_->GetModel(model, -1, &found).ok()) {
      return error(Status::InvalidArg("Request for unknown model : " + model));
    }
  }
  TraceManager& traces = core_->traces();
  if (req.method() == beast_http::verb::post) {
    std::vector<TraceSettingChange> changes;
    Status st = ParseTraceSettingsBody(req.body(), &changes);
    if (st.ok()) st = traces.Update(model, changes);
    if (!st.ok()) return error(st);
  }
  respond(Json(beast_http::status::ok, TraceSettingsJson(traces.Get(model)), req));
}

Status HttpApi::HandleSystemSharedMemory(std::string_view action, const std::string& region,
                                         std::string_view request_body, std::string* body) {
  SharedMemoryManager& manager = core_->shared_memory();
  if (action == "status") {
    std::vector<SharedMemoryRegionInfo> regions;
    INFERD_RETURN_IF_ERROR(manager.GetStatus(region, &regions));
    *body = SharedMemoryStatusJson(regions);
    return Status::Ok();
  }
  if (action == "unregister") {
    if (region.empty()) manager.UnregisterAll();
    else manager.Unregister(region);
    return Status::Ok();
  }
  if (region.empty()) {
    return Status::InvalidArg("'region name' is necessary to register system shared memory region");
  }
  SharedMemoryRegisterBody parsed;
  INFERD_RETURN_IF_ERROR(ParseSharedMemoryRegisterBody(request_body, &parsed));
  return manager.Register(region, parsed.key, parsed.offset, parsed.byte_size);
}

Status HttpApi::HandleCudaSharedMemory(std::string_view action, const std::string& region,
                                       std::string* body) {
  // No region can be registered, so there is never one to list or remove.
  if (action == "status") {
    if (!region.empty()) {
      return Status::NotFound("Unable to find cuda shared memory region: '" + region + "'");
    }
    *body = "[]";
    return Status::Ok();
  }
  if (action == "unregister") return Status::Ok();
  return Status::InvalidArg(CudaSharedMemoryRefusal(region));
}

void HttpApi::HandleLoadUnload(HttpRequest&& req, const std::string& model, bool load,
                               Responder respond) {
  const unsigned version = req.version();
  const bool keep_alive = req.keep_alive();
  auto done = [respond = std::move(respond), version, keep_alive](const Status& st) {
    if (!st.ok()) return respond(Error(st, version, keep_alive));
    HttpResponse res(beast_http::status::ok, version);
    res.keep_alive(keep_alive);
    res.prepare_payload();
    respond(std::move(res));
  };
  LoadOverrides overrides;
  Status st = ParseLoadRequestBody(req.body(), &overrides);
  if (!st.ok()) return done(st);
  if (load) core_->LoadModelAsync(model, std::move(overrides), std::move(done));
  else core_->UnloadModelAsync(model, overrides.unload_dependents, std::move(done));
}

void HttpApi::HandleInfer(HttpRequest&& req, const HttpReadTimes& read_times, const std::string& model_name,
                          int64_t version, Responder respond) {
  if (req.body().size() < kDecodeOffThreadBytes &&
      req.find(beast_http::field::content_encoding) == req.end()) {
    return DecodeInfer(req, read_times, model_name, version, respond);
  }
  boost::asio::post(*decode_pool_, [this, req = std::move(req), read_times, model_name, version,
                                    respond = std::move(respond)]() mutable {
    try {
      DecodeInfer(req, read_times, model_name, version, respond);
    } catch (const std::exception& e) {  // answered exactly once: DecodeInfer did not answer
      respond(Error(Status::Internal(std::string("decoding the request failed: ") + e.what()),
                    req.version(), req.keep_alive()));
    }
  });
}

void HttpApi::DecodeInfer(HttpRequest& req, const HttpReadTimes& read_times, const std::string& model_name,
                          int64_t version, const Responder& respond) {
  const unsigned http_version = req.version();
  const bool keep_alive = req.keep_alive();
  auto request = std::make_shared<InferenceRequest>();
  request->receive_ns = NowNs();
  request->frontend = InferenceRequest::Frontend::kHttp;
  request->read_start_ns = read_times.start_ns;
  request->read_end_ns = read_times.end_ns;
  if (auto parent = req.find("traceparent"); parent != req.end() && parent->value().size() <= 256) {
    request->traceparent = std::string(parent->value());
  }
  request->model_name = model_name;
  request->model_version = version;

  auto fail = [&](const Status& st) {
    request->on_response = [respond, http_version, keep_alive](std::unique_ptr<InferenceResponse> r) {
      respond(Error(r->status, http_version, keep_alive));
    };
    core_->Reject(request, st);
  };

  // Body: decompress, then parse. The body string moves into a shared buffer
  // that binary inputs point into.
  Encoding content_encoding = Encoding::kIdentity;
  if (auto ce = req.find(beast_http::field::content_encoding); ce != req.end()) {
    Status st = ParseContentEncoding(ce->value(), &content_encoding);
    if (!st.ok()) return fail(st);
  }
  auto body = std::make_shared<std::string>(std::move(req.body()));
  if (content_encoding != Encoding::kIdentity) {
    auto plain = std::make_shared<std::string>();
    Status st = Decompress(content_encoding, *body, options_.max_input_size, plain.get());
    if (!st.ok()) return fail(st);
    body = std::move(plain);
  }
  std::optional<size_t> header_length;
  if (auto h = req.find(kInferHeaderLength); h != req.end()) {
    size_t n = 0;
    auto v = h->value();
    auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
    if (ec != std::errc() || ptr != v.data() + v.size()) {
      return fail(Status::InvalidArg(std::string(kInferHeaderLength) + " must be an integer"));
    }
    header_length = n;
  }
  const size_t json_size = header_length ? std::min(*header_length, body->size()) : body->size();
  if (json_size > options_.max_json_size) {
    return fail(Status::InvalidArg(
        "the JSON of the inference request has " + std::to_string(json_size) +
        " bytes, more than the limit of " + std::to_string(options_.max_json_size) +
        " (--http-max-json-size); send large tensors as binary data"));
  }
  Status st;
  if (header_length == 0u) {
    // Triton's raw binary request: the body is the only input's data, whose
    // name, type and shape come from the model's config.
    std::shared_ptr<Model> model;
    st = core_->GetModel(model_name, version, &model);
    if (st.ok()) st = ParseRawInferRequest(body, model->config(), request.get());
  } else {
    st = ParseInferRequest(body, header_length, request.get());
  }
  if (!st.ok()) return fail(st);

  Encoding response_encoding = Encoding::kIdentity;
  if (auto ae = req.find(beast_http::field::accept_encoding); ae != req.end()) {
    response_encoding = ChooseResponseEncoding(ae->value());
  }
  request->on_response = [respond, http_version, keep_alive,
                          response_encoding](std::unique_ptr<InferenceResponse> response) {
    if (!response->status.ok()) return respond(Error(response->status, http_version, keep_alive));
    HttpResponse res(beast_http::status::ok, http_version);
    try {
      EncodeResponse(response.get(), response_encoding, &res);
    } catch (const std::exception& e) {
      // Runs on whichever thread answered: the client gets an error, not silence.
      return respond(Error(Status::Internal(std::string("encoding the response failed: ") + e.what()),
                           http_version, keep_alive));
    }
    res.keep_alive(keep_alive);
    res.prepare_payload();
    if (const auto& trace = response->request->trace) {
      // The answer holds the trace until it is written: then HTTP_SEND_END.
      trace->Stamp("HTTP_SEND_START", NowNs());
      res.body().sent = std::shared_ptr<void>(nullptr, [trace](void*) noexcept {
        try {
          trace->Stamp("HTTP_SEND_END", NowNs());
        } catch (...) {  // out of memory: the trace goes without it
        }
      });
    }
    respond(std::move(res));
  };
  core_->Infer(request);
}

}  // namespace inferd::http
