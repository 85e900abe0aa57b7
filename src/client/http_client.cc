// InferClient over HTTP/1.1 with keep-alive (Boost.Beast, synchronous), using
// the binary tensor data extension both ways.
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <charconv>
#include <chrono>
#include <optional>

#include "client/infer_client.h"
#include "common/json_parse.h"

namespace inferd::client {
namespace {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

uint64_t Now() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                   std::chrono::steady_clock::now().time_since_epoch())
                                   .count());
}

Status StatusForHttp(unsigned code, const std::string& body) {
  std::string message = body;
  rapidjson::Document doc;
  std::string why;
  if (ParseJson(body, &doc, &why) && doc.IsObject() && doc.HasMember("error") && doc["error"].IsString()) {
    message = doc["error"].GetString();
  }
  message = "HTTP " + std::to_string(code) + ": " + message;
  switch (code) {
    case 400: return Status::InvalidArg(message);
    case 404: return Status::NotFound(message);
    case 503: return Status::Unavailable(message);
    default: return Status::Internal(message);
  }
}

uint64_t U64(const rapidjson::Value& v, const char* key) {
  auto it = v.FindMember(key);
  return it != v.MemberEnd() && it->value.IsUint64() ? it->value.GetUint64() : 0;
}

void ReadDuration(const rapidjson::Value& stats, const char* key, ServerStats::Duration* d) {
  auto it = stats.FindMember(key);
  if (it == stats.MemberEnd() || !it->value.IsObject()) return;
  d->count += U64(it->value, "count");
  d->ns += U64(it->value, "ns");
}

void ReadTensors(const rapidjson::Value& list, std::vector<TensorInfo>* out) {
  if (!list.IsArray()) return;
  for (const auto& t : list.GetArray()) {
    TensorInfo& info = out->emplace_back();
    if (t.HasMember("name") && t["name"].IsString()) info.name = t["name"].GetString();
    if (t.HasMember("datatype") && t["datatype"].IsString()) info.datatype = t["datatype"].GetString();
    if (t.HasMember("shape") && t["shape"].IsArray()) {
      for (const auto& d : t["shape"].GetArray())
        if (d.IsInt64()) info.shape.push_back(d.GetInt64());
    }
  }
}

class HttpClient final : public InferClient {
 public:
  HttpClient(const std::string& url, const Headers& headers) : socket_(ioc_), headers_(headers) {
    const size_t colon = url.rfind(':');
    host_ = colon == std::string::npos ? url : url.substr(0, colon);
    port_ = colon == std::string::npos ? "8000" : url.substr(colon + 1);
  }

  Status ServerLive(bool* live) override {
    Response res;
    Status st = Exchange(bhttp::verb::get, "/v2/health/live", "", {}, &res, nullptr);
    *live = st.ok() && res.result_int() == 200;
    return st;
  }

  Status ModelMetadata(const std::string& model, const std::string& version, ModelInfo* out) override {
    const std::string base = "/v2/models/" + model + (version.empty() ? "" : "/versions/" + version);
    rapidjson::Document meta, config;
    INFERD_RETURN_IF_ERROR(GetJson(base, &meta));
    INFERD_RETURN_IF_ERROR(GetJson(base + "/config", &config));
    out->name = meta.HasMember("name") && meta["name"].IsString() ? meta["name"].GetString() : model;
    if (meta.HasMember("versions") && meta["versions"].IsArray()) {
      for (const auto& v : meta["versions"].GetArray())
        if (v.IsString()) out->versions.push_back(v.GetString());
    }
    if (meta.HasMember("inputs")) ReadTensors(meta["inputs"], &out->inputs);
    if (meta.HasMember("outputs")) ReadTensors(meta["outputs"], &out->outputs);
    if (config.HasMember("max_batch_size") && config["max_batch_size"].IsInt64()) {
      out->max_batch_size = config["max_batch_size"].GetInt64();
    }
    if (config.HasMember("model_transaction_policy") && config["model_transaction_policy"].IsObject()) {
      const auto& p = config["model_transaction_policy"];
      out->decoupled = p.HasMember("decoupled") && p["decoupled"].IsBool() && p["decoupled"].GetBool();
    }
    if (config.HasMember("input") && config["input"].IsArray()) {
      for (const auto& in : config["input"].GetArray()) {
        if (!in.HasMember("name") || !in["name"].IsString()) continue;
        const bool optional = in.HasMember("optional") && in["optional"].IsBool() && in["optional"].GetBool();
        for (auto& t : out->inputs)
          if (t.name == in["name"].GetString()) t.optional = optional;
      }
    }
    return Status::Ok();
  }

  Status ModelStatistics(const std::string& model, const std::string& version, ServerStats* out) override {
    rapidjson::Document doc;
    INFERD_RETURN_IF_ERROR(GetJson(
        "/v2/models/" + model + (version.empty() ? "" : "/versions/" + version) + "/stats", &doc));
    *out = ServerStats{};
    if (!doc.HasMember("model_stats") || !doc["model_stats"].IsArray()) {
      return Status::Internal("statistics of model '" + model + "' have no model_stats");
    }
    for (const auto& m : doc["model_stats"].GetArray()) {
      out->inference_count += U64(m, "inference_count");
      out->execution_count += U64(m, "execution_count");
      auto is = m.FindMember("inference_stats");
      if (is == m.MemberEnd()) continue;
      const auto& s = is->value;
      ReadDuration(s, "success", &out->success);
      ReadDuration(s, "fail", &out->fail);
      ReadDuration(s, "queue", &out->queue);
      ReadDuration(s, "compute_input", &out->compute_input);
      ReadDuration(s, "compute_infer", &out->compute_infer);
      ReadDuration(s, "compute_output", &out->compute_output);
      ReadDuration(s, "cache_hit", &out->cache_hit);
      ReadDuration(s, "cache_miss", &out->cache_miss);
    }
    return Status::Ok();
  }

  Status Prepare(const InferRequest& request) override {
    rapidjson::StringBuffer sb;
    rapidjson::Writer<rapidjson::StringBuffer> w(sb);
    w.StartObject();
    w.Key("inputs");
    w.StartArray();
    for (const auto& in : request.inputs) {
      w.StartObject();
      w.Key("name");
      w.String(in.name.c_str());
      w.Key("datatype");
      w.String(in.datatype.c_str());
      w.Key("shape");
      w.StartArray();
      for (int64_t d : in.shape) w.Int64(d);
      w.EndArray();
      w.Key("parameters");
      w.StartObject();
      w.Key("binary_data_size");
      w.Uint64(in.data.size());
      w.EndObject();
      w.EndObject();
    }
    w.EndArray();
    if (request.outputs.empty()) {
      w.Key("parameters");
      w.StartObject();
      w.Key("binary_data_output");
      w.Bool(true);
      w.EndObject();
    } else {
      w.Key("outputs");
      w.StartArray();
      for (const auto& o : request.outputs) {
        w.StartObject();
        w.Key("name");
        w.String(o.c_str());
        w.Key("parameters");
        w.StartObject();
        w.Key("binary_data");
        w.Bool(true);
        w.EndObject();
        w.EndObject();
      }
      w.EndArray();
    }
    w.EndObject();
    header_length_ = std::to_string(sb.GetSize());
    body_.assign(sb.GetString(), sb.GetSize());
    for (const auto& in : request.inputs) body_ += in.data;
    target_ = "/v2/models/" + request.model +
              (request.version.empty() ? "" : "/versions/" + request.version) + "/infer";
    return Status::Ok();
  }

  Status Infer(RequestTiming* timing, std::vector<OutputTensor>* outputs) override {
    Response res;
    INFERD_RETURN_IF_ERROR(Exchange(bhttp::verb::post, target_, body_,
                                    {{"Inference-Header-Content-Length", header_length_},
                                     {"Content-Type", "application/octet-stream"}},
                                    &res, timing));
    const uint64_t t = Now();
    if (res.result_int() != 200) return StatusForHttp(res.result_int(), res.body());
    if (outputs) INFERD_RETURN_IF_ERROR(DecodeOutputs(res, outputs));
    if (timing) timing->receive_ns += Now() - t;
    return Status::Ok();
  }

 private:
  using Response = bhttp::response<bhttp::string_body>;

  Status Connect() {
    beast::error_code ec;
    socket_.close(ec);
    tcp::resolver resolver(ioc_);
    auto endpoints = resolver.resolve(host_, port_, ec);
    if (!ec) asio::connect(socket_, endpoints, ec);
    if (ec) {
      return Status::Unavailable("cannot connect to " + host_ + ":" + port_ + " over HTTP: " + ec.message());
    }
    socket_.set_option(tcp::no_delay(true), ec);
    buffer_.clear();
    connected_ = true;
    return Status::Ok();
  }

  // One request/response on the keep-alive connection; reconnects once when
  // the server closed it meanwhile.
  Status Exchange(bhttp::verb verb, const std::string& target, const std::string& body,
                  const Headers& extra, Response* res, RequestTiming* timing) {
    for (int attempt = 0; attempt < 2; ++attempt) {
      if (!connected_) INFERD_RETURN_IF_ERROR(Connect());
      bhttp::request<bhttp::string_body> req(verb, target, 11);
      req.set(bhttp::field::host, host_);
      req.keep_alive(true);
      for (const auto& [k, v] : headers_) req.set(k, v);
      for (const auto& [k, v] : extra) req.set(k, v);
      if (!body.empty() || verb == bhttp::verb::post) req.body() = body;
      req.prepare_payload();
      const uint64_t t0 = Now();
      beast::error_code ec;
      bhttp::write(socket_, req, ec);
      const uint64_t t1 = Now();
      bhttp::response_parser<bhttp::string_body> parser;
      parser.body_limit(std::numeric_limits<uint64_t>::max());
      if (!ec) bhttp::read_header(socket_, buffer_, parser, ec);
      const uint64_t t2 = Now();
      if (!ec) bhttp::read(socket_, buffer_, parser, ec);
      const uint64_t t3 = Now();
      if (ec) {
        connected_ = false;
        if (attempt == 0 && (ec == bhttp::error::end_of_stream || ec == asio::error::connection_reset ||
                             ec == asio::error::broken_pipe || ec == asio::error::eof)) {
          continue;
        }
        return Status::Unavailable("HTTP exchange with " + host_ + ":" + port_ + " failed: " + ec.message());
      }
      *res = parser.release();
      if (!res->keep_alive()) connected_ = false;
      if (timing) {
        timing->send_ns = t1 - t0;
        timing->response_wait_ns = t2 - t1;
        timing->receive_ns = t3 - t2;
      }
      return Status::Ok();
    }
    return Status::Unavailable("HTTP connection to " + host_ + ":" + port_ + " keeps closing");
  }

  Status GetJson(const std::string& target, rapidjson::Document* doc) {
    Response res;
    INFERD_RETURN_IF_ERROR(Exchange(bhttp::verb::get, target, "", {}, &res, nullptr));
    if (res.result_int() != 200) return StatusForHttp(res.result_int(), res.body());
    std::string why;
    if (!ParseJson(res.body(), doc, &why) || !doc->IsObject()) {
      return Status::Internal("GET " + target + " did not answer a JSON object");
    }
    return Status::Ok();
  }

  static Status DecodeOutputs(const Response& res, std::vector<OutputTensor>* outputs) {
    const std::string& body = res.body();
    size_t json_len = body.size();
    if (auto h = res.find("Inference-Header-Content-Length"); h != res.end()) {
      const auto v = h->value();
      auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), json_len);
      if (ec != std::errc() || ptr != v.data() + v.size() || json_len > body.size()) {
        return Status::Internal("malformed inference response: bad Inference-Header-Content-Length");
      }
    }
    rapidjson::Document doc;
    std::string why;
    if (!ParseJson(std::string_view(body.data(), json_len), &doc, &why) || !doc.IsObject() ||
        !doc.HasMember("outputs") || !doc["outputs"].IsArray()) {
      return Status::Internal("malformed inference response" + (why.empty() ? "" : ": " + why));
    }
    size_t offset = json_len;
    // A response is input too: every field is checked before it is read.
    for (const auto& o : doc["outputs"].GetArray()) {
      if (!o.IsObject() || !o.HasMember("name") || !o["name"].IsString() || !o.HasMember("datatype") ||
          !o["datatype"].IsString() || !o.HasMember("shape") || !o["shape"].IsArray()) {
        return Status::Internal("malformed inference response: an output lacks name, datatype or shape");
      }
      OutputTensor& t = outputs->emplace_back();
      t.name = o["name"].GetString();
      t.datatype = o["datatype"].GetString();
      for (const auto& d : o["shape"].GetArray()) {
        if (!d.IsInt64()) return Status::Internal("malformed inference response: shape of " + t.name);
        t.shape.push_back(d.GetInt64());
      }
      auto params = o.FindMember("parameters");
      if (params != o.MemberEnd() && params->value.IsObject() && params->value.HasMember("binary_data_size")) {
        const auto& size = params->value["binary_data_size"];
        if (!size.IsUint64()) return Status::Internal("malformed inference response: binary_data_size");
        const uint64_t n = size.GetUint64();
        if (n > body.size() - offset) return Status::Internal("truncated binary output " + t.name);
        t.data = body.substr(offset, n);
        offset += n;
      }
    }
    return Status::Ok();
  }

  asio::io_context ioc_;
  tcp::socket socket_;
  beast::flat_buffer buffer_;
  bool connected_ = false;
  std::string host_, port_;
  Headers headers_;
  std::string target_, body_, header_length_;
};

}  // namespace

std::unique_ptr<InferClient> MakeHttpClient(const std::string& url, const Headers& headers) {
  return std::make_unique<HttpClient>(url, headers);
}

size_t WireTypeSize(const std::string& t) {
  if (t == "BOOL" || t == "INT8" || t == "UINT8") return 1;
  if (t == "INT16" || t == "UINT16" || t == "FP16" || t == "BF16") return 2;
  if (t == "INT32" || t == "UINT32" || t == "FP32") return 4;
  if (t == "INT64" || t == "UINT64" || t == "FP64") return 8;
  return 0;
}

}  // namespace inferd::client
