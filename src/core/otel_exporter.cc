#include "core/otel_exporter.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <charconv>
#include <chrono>
#include <random>

#include "common/logging.h"
#include "common/utf8.h"

namespace inferd {
namespace {

constexpr auto kExportDeadline = std::chrono::seconds(10);
constexpr size_t kMaxCollectorAnswer = 1 << 20;  // what is read of a collector's answer
constexpr int kSpanKindServer = 2;              // OTLP Span.SpanKind SPAN_KIND_SERVER

bool IsLowerHex(const std::string& s) {
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

bool AllZero(const std::string& s) { return s.find_first_not_of('0') == std::string::npos; }

// Strings in the body must be UTF-8 (a model name or request id may not be).
const char* Utf8OrEmpty(const std::string& s) { return IsValidUtf8(s) ? s.c_str() : ""; }

}  // namespace

std::string RandomHexId(size_t bytes) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  do {
    out.clear();
    for (size_t i = 0; i < bytes; i += 8) {
      uint64_t r = rng();
      for (size_t j = 0; j < 8 && i + j < bytes; ++j, r >>= 8) {
        out += kDigits[(r >> 4) & 0xf];
        out += kDigits[r & 0xf];
      }
    }
  } while (AllZero(out));
  return out;
}

bool ParseTraceparent(const std::string& header, std::string* trace_id, std::string* parent_span_id) {
  // version "-" trace-id "-" parent-id "-" flags; a later version may add
  // fields after the flags, version ff is invalid.
  if (header.size() < 55 || header[2] != '-' || header[35] != '-' || header[52] != '-') return false;
  if (header.size() > 55 && (header.substr(0, 2) == "00" || header[55] != '-')) return false;
  const std::string version = header.substr(0, 2), trace = header.substr(3, 32), span = header.substr(36, 16),
                    flags = header.substr(53, 2);
  if (!IsLowerHex(version) || version == "ff" || !IsLowerHex(trace) || !IsLowerHex(span) || !IsLowerHex(flags)) {
    return false;
  }
  if (AllZero(trace) || AllZero(span)) return false;
  *trace_id = trace;
  *parent_span_id = span;
  return true;
}

std::string EncodeOtlpJson(const std::vector<std::pair<std::string, std::string>>& resource,
                           const std::vector<OtelSpan>& spans) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
  auto string_attribute = [&w](const std::string& key, const std::string& value) {
    w.StartObject();
    w.Key("key");
    w.String(Utf8OrEmpty(key));
    w.Key("value");
    w.StartObject();
    w.Key("stringValue");
    w.String(Utf8OrEmpty(value));
    w.EndObject();
    w.EndObject();
  };
  // OTLP/JSON writes 64-bit integers as strings (protobuf's JSON mapping).
  auto u64 = [&w](uint64_t v) { w.String(std::to_string(v).c_str()); };
  w.StartObject();
  w.Key("resourceSpans");
  w.StartArray();
  w.StartObject();
  w.Key("resource");
  w.StartObject();
  w.Key("attributes");
  w.StartArray();
  for (const auto& [key, value] : resource) string_attribute(key, value);
  w.EndArray();
  w.EndObject();
  w.Key("scopeSpans");
  w.StartArray();
  w.StartObject();
  w.Key("scope");
  w.StartObject();
  w.Key("name");
  w.String("triton-server");  // Triton's tracer name, which its users' queries may name
  w.EndObject();
  w.Key("spans");
  w.StartArray();
  for (const OtelSpan& s : spans) {
    w.StartObject();
    w.Key("traceId");
    w.String(s.trace_id.c_str());
    w.Key("spanId");
    w.String(s.span_id.c_str());
    if (!s.parent_span_id.empty()) {
      w.Key("parentSpanId");
      w.String(s.parent_span_id.c_str());
    }
    w.Key("name");
    w.String(Utf8OrEmpty(s.name));
    w.Key("kind");
    w.Int(kSpanKindServer);
    w.Key("startTimeUnixNano");
    u64(s.start_ns);
    w.Key("endTimeUnixNano");
    u64(s.end_ns);
    w.Key("attributes");
    w.StartArray();
    for (const auto& [key, value] : s.attributes) {
      if (const auto* text = std::get_if<std::string>(&value)) {
        string_attribute(key, *text);
        continue;
      }
      w.StartObject();
      w.Key("key");
      w.String(key.c_str());
      w.Key("value");
      w.StartObject();
      w.Key("intValue");
      w.String(std::to_string(std::get<int64_t>(value)).c_str());
      w.EndObject();
      w.EndObject();
    }
    w.EndArray();
    w.Key("events");
    w.StartArray();
    for (const auto& [name, ns] : s.events) {
      w.StartObject();
      w.Key("timeUnixNano");
      u64(ns);
      w.Key("name");
      w.String(Utf8OrEmpty(name));
      w.EndObject();
    }
    w.EndArray();
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  w.EndArray();
  w.EndObject();
  w.EndArray();
  w.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize());
}

Status ParseOtelUrl(const std::string& url, std::string* host, std::string* port, std::string* target) {
  std::string rest = url;
  if (rest.rfind("https://", 0) == 0) {
    return Status::InvalidArg("opentelemetry url '" + url + "': https is not built; use a collector's http endpoint");
  }
  if (rest.rfind("http://", 0) == 0) rest = rest.substr(7);
  const size_t slash = rest.find('/');
  *target = slash == std::string::npos ? "/v1/traces" : rest.substr(slash);
  const std::string authority = rest.substr(0, slash);
  *host = authority;
  *port = "4318";
  if (const size_t colon = authority.rfind(':'); colon != std::string::npos && authority.back() != ']') {
    *host = authority.substr(0, colon);
    *port = authority.substr(colon + 1);
  }
  if (host->size() >= 2 && host->front() == '[' && host->back() == ']') *host = host->substr(1, host->size() - 2);
  unsigned port_number = 0;
  const auto [end, ec] = std::from_chars(port->data(), port->data() + port->size(), port_number);
  const bool port_ok =
      ec == std::errc() && end == port->data() + port->size() && port_number > 0 && port_number <= 65535;
  const bool clean = host->find_first_of(" \r\n/@") == std::string::npos &&
                     target->find_first_of(" \r\n") == std::string::npos;
  if (host->empty() || !port_ok || !clean) {
    return Status::InvalidArg("opentelemetry url '" + url +
                              "': expected [http://]host[:port][/path], e.g. localhost:4318/v1/traces");
  }
  return Status::Ok();
}

Status OtelExporter::Create(OtelOptions options, std::unique_ptr<OtelExporter>* out) {
  std::string host, port, target;
  INFERD_RETURN_IF_ERROR(ParseOtelUrl(options.url, &host, &port, &target));
  if (options.max_queue_size == 0 || options.max_export_batch_size == 0) {
    return Status::InvalidArg("opentelemetry bsp_max_queue_size and bsp_max_export_batch_size must be > 0");
  }
  out->reset(new OtelExporter(std::move(options), std::move(host), std::move(port), std::move(target)));
  return Status::Ok();
}

OtelExporter::OtelExporter(OtelOptions options, std::string host, std::string port, std::string target)
    : options_(std::move(options)), host_(std::move(host)), port_(std::move(port)), target_(std::move(target)) {
  thread_ = std::thread([this] { Loop(); });
}

OtelExporter::~OtelExporter() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void OtelExporter::Add(std::vector<OtelSpan> spans) {
  bool wake = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& span : spans) {
      if (queue_.size() >= options_.max_queue_size) {
        ++dropped_;
        continue;
      }
      queue_.push_back(std::move(span));
    }
    wake = queue_.size() >= options_.max_export_batch_size || options_.schedule_delay_ms == 0;
  }
  if (wake) cv_.notify_all();
}

void OtelExporter::Loop() {
  std::unique_lock<std::mutex> lock(mu_);
  auto last_warning = std::chrono::steady_clock::time_point{};
  for (;;) {
    if (options_.schedule_delay_ms == 0) {  // no delay: export as soon as there is a span
      cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
    } else {
      cv_.wait_for(lock, std::chrono::milliseconds(options_.schedule_delay_ms),
                   [&] { return stopping_ || queue_.size() >= options_.max_export_batch_size; });
    }
    const bool stopping = stopping_;
    while (!queue_.empty()) {
      const size_t n = std::min<size_t>(queue_.size(), options_.max_export_batch_size);
      std::vector<OtelSpan> batch(std::make_move_iterator(queue_.begin()),
                                  std::make_move_iterator(queue_.begin() + static_cast<std::ptrdiff_t>(n)));
      queue_.erase(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(n));
      const uint64_t dropped = std::exchange(dropped_, 0);
      lock.unlock();
      Status st;
      try {
        st = Post(EncodeOtlpJson(options_.resource, batch));
      } catch (const std::exception& e) {
        st = Status::Internal(e.what());
      }
      const auto now = std::chrono::steady_clock::now();
      if ((!st.ok() || dropped > 0) && now - last_warning > std::chrono::minutes(1)) {
        last_warning = now;  // at most one warning a minute: a collector down must not flood the log
        if (!st.ok()) LOG_WARNING("OpenTelemetry export of {} span(s) failed: {}", batch.size(), st.message());
        if (dropped > 0) LOG_WARNING("OpenTelemetry: {} span(s) dropped, the queue was full", dropped);
      }
      lock.lock();
      if (stopping && !st.ok()) queue_.clear();  // at exit, one try only
      // Wait for more or for the delay (with no delay, send what came meanwhile).
      if (!stopping && options_.schedule_delay_ms != 0 && queue_.size() < options_.max_export_batch_size) break;
    }
    if (stopping) return;
  }
}

Status OtelExporter::Post(const std::string& body) const {
  namespace asio = boost::asio;
  namespace beast = boost::beast;
  namespace http = beast::http;
  using tcp = asio::ip::tcp;
  const std::string where = "collector " + host_ + ":" + port_ + target_;
  asio::io_context ioc;
  tcp::resolver resolver(ioc);
  beast::tcp_stream stream(ioc);
  http::request<http::string_body> request{http::verb::post, target_, 11};
  request.set(http::field::host, host_ + ":" + port_);
  request.set(http::field::content_type, "application/json");
  request.set(http::field::user_agent, "inferd");
  request.body() = body;
  request.prepare_payload();
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(kMaxCollectorAnswer);
  Status result = Status::Unavailable(where + ": no answer within 10 s");
  auto fail = [&](const char* step, const beast::error_code& ec) {
    result = Status::Unavailable(where + ": " + step + ": " + ec.message());
  };
  resolver.async_resolve(host_, port_, [&](const beast::error_code& ec, const tcp::resolver::results_type& found) {
    if (ec) return fail("resolve", ec);
    stream.expires_after(kExportDeadline);
    stream.async_connect(found, [&](const beast::error_code& ec2, const tcp::endpoint&) {
      if (ec2) return fail("connect", ec2);
      http::async_write(stream, request, [&](const beast::error_code& ec3, size_t) {
        if (ec3) return fail("send", ec3);
        http::async_read(stream, buffer, parser, [&](const beast::error_code& ec4, size_t) {
          if (ec4) return fail("read", ec4);
          const unsigned code = parser.get().result_int();
          result = code / 100 == 2 ? Status::Ok()
                                   : Status::Unavailable(where + " answered HTTP " + std::to_string(code));
        });
      });
    });
  });
  ioc.run_for(kExportDeadline);
  return result;
}

}  // namespace inferd
