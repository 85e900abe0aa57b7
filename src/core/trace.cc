#include "core/trace.h"

#include <fmt/format.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <ctime>
#include <limits>
#include <string_view>

#include "common/datatype.h"
#include "common/half.h"
#include "common/logging.h"
#include "common/utf8.h"
#include "core/inference_request.h"

namespace inferd {

// Where traces go: one JSON array per file, opened at the first trace and
// closed (its ']' written) when full or at exit.
class TraceFile {
 public:
  explicit TraceFile(std::string path) : path_(std::move(path)) {}
  ~TraceFile() {
    for (FILE* f : {main_, numbered_}) {
      if (f == nullptr) continue;
      std::fputs("]", f);
      std::fclose(f);
    }
  }
  TraceFile(const TraceFile&) = delete;
  TraceFile& operator=(const TraceFile&) = delete;

  // Appends one trace's JSON objects (without brackets). log_frequency 0:
  // into the file itself; N: into <file>.<index>, N traces each.
  void Write(const std::string& json, uint32_t log_frequency) {
    std::lock_guard<std::mutex> lock(mu_);
    FILE** target = log_frequency == 0 ? &main_ : &numbered_;
    if (*target == nullptr) {
      const std::string path = log_frequency == 0 ? path_ : path_ + "." + std::to_string(next_index_++);
      *target = std::fopen(path.c_str(), "we");
      if (*target == nullptr) {
        if (!open_failed_logged_) LOG_ERROR("cannot open trace file '{}': {}", path, std::strerror(errno));
        open_failed_logged_ = true;
        return;
      }
      std::fputs("[", *target);
    } else {
      std::fputs(",", *target);
    }
    std::fputs(json.c_str(), *target);
    if (log_frequency != 0 && ++in_numbered_ >= log_frequency) {
      std::fputs("]", numbered_);
      std::fclose(numbered_);
      numbered_ = nullptr;
      in_numbered_ = 0;
      return;
    }
    std::fflush(*target);  // readers see each trace as it ends
  }

 private:
  const std::string path_;
  std::mutex mu_;
  FILE* main_ = nullptr;      // guarded by mu_
  FILE* numbered_ = nullptr;  // guarded by mu_
  uint32_t in_numbered_ = 0;  // traces in numbered_; guarded by mu_
  uint64_t next_index_ = 0;   // guarded by mu_
  bool open_failed_logged_ = false;
};

namespace {

enum Field { kLevel, kRate, kCount, kLogFrequency };

// Triton's words for a number it cannot read ("Unable to parse 'trace_rate',
// got: x"), which its tests and users know.
Status ParseUint32(const std::string& name, const std::string& text, uint32_t* out) {
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
  if (ec == std::errc::result_out_of_range) {
    return Status::InvalidArg("Unable to parse '" + name + "', value is out of range [ 0, " +
                              std::to_string(std::numeric_limits<uint32_t>::max()) + " ], got: " + text);
  }
  if (ec != std::errc() || ptr != text.data() + text.size() || text.empty()) {
    return Status::InvalidArg("Unable to parse '" + name + "', got: " + text);
  }
  return Status::Ok();
}

Status ParseCount(const std::string& text, int32_t* out) {
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
  if (ec != std::errc() || ptr != text.data() + text.size() || text.empty()) {
    return Status::InvalidArg("Unable to parse 'trace_count', got: " + text);
  }
  if (*out < -1) {
    return Status::InvalidArg("Unable to parse 'trace_count'. Expecting value >= -1, got:" + text);
  }
  return Status::Ok();
}

// Level names into level bits: OFF alone, or TIMESTAMPS and/or TENSORS
// (Triton's older MIN and MAX mean TIMESTAMPS).
Status ParseLevels(const std::vector<std::string>& names, uint32_t* level) {
  *level = 0;
  for (const std::string& name : names) {
    if (name == "OFF") {
      if (names.size() != 1) return Status::InvalidArg("Expect only one trace level 'OFF' is specified");
    } else if (name == "TIMESTAMPS" || name == "MIN" || name == "MAX") {
      *level |= kTraceTimestamps;
    } else if (name == "TENSORS") {
      *level |= kTraceTensors;
    } else {
      return Status::InvalidArg("unknown trace level '" + name + "' (OFF, TIMESTAMPS, TENSORS)");
    }
  }
  return Status::Ok();
}

template <typename T>
T Load(const char* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// The elements of a tensor as text, comma separated, as Triton's TENSORS
// traces hold them ("1,2,3"); BYTES elements that are not UTF-8 are shown
// by their size. Empty when the tensor has over kMaxTracedElements.
std::string ElementsText(InferdDataType type, const std::string& bytes) {
  std::string out;
  auto add = [&out](const std::string& text) {
    if (!out.empty()) out += ',';
    out += text;
  };
  if (type == INFERD_TYPE_BYTES) {
    size_t pos = 0, count = 0;
    while (pos + 4 <= bytes.size() && count++ < kMaxTracedElements) {
      const uint32_t len = Load<uint32_t>(bytes.data() + pos);
      pos += 4;
      if (len > bytes.size() - pos) break;
      std::string_view element(bytes.data() + pos, len);
      add(IsValidUtf8(element) ? std::string(element) : "<" + std::to_string(len) + " bytes>");
      pos += len;
    }
    return count > kMaxTracedElements ? std::string() : out;
  }
  const size_t size = DataTypeByteSize(type);
  if (size == 0 || bytes.size() / size > kMaxTracedElements) return out;
  for (size_t pos = 0; pos + size <= bytes.size(); pos += size) {
    const char* p = bytes.data() + pos;
    switch (type) {
      case INFERD_TYPE_BOOL: add(*p ? "1" : "0"); break;
      case INFERD_TYPE_UINT8: add(std::to_string(Load<uint8_t>(p))); break;
      case INFERD_TYPE_UINT16: add(std::to_string(Load<uint16_t>(p))); break;
      case INFERD_TYPE_UINT32: add(std::to_string(Load<uint32_t>(p))); break;
      case INFERD_TYPE_UINT64: add(std::to_string(Load<uint64_t>(p))); break;
      case INFERD_TYPE_INT8: add(std::to_string(Load<int8_t>(p))); break;
      case INFERD_TYPE_INT16: add(std::to_string(Load<int16_t>(p))); break;
      case INFERD_TYPE_INT32: add(std::to_string(Load<int32_t>(p))); break;
      case INFERD_TYPE_INT64: add(std::to_string(Load<int64_t>(p))); break;
      case INFERD_TYPE_FP16: add(fmt::format("{}", HalfToFloat(Load<uint16_t>(p)))); break;
      case INFERD_TYPE_BF16: add(fmt::format("{}", Bf16ToFloat(Load<uint16_t>(p)))); break;
      case INFERD_TYPE_FP32: add(fmt::format("{}", Load<float>(p))); break;
      case INFERD_TYPE_FP64: add(fmt::format("{}", Load<double>(p))); break;
      default: return std::string();
    }
  }
  return out;
}

// Sets one field of `s` from a client's or the command line's values.
Status SetField(Field field, const std::string& name, const std::vector<std::string>& values,
                TraceSettings* s) {
  if (field != kLevel && values.size() != 1) {
    return Status::InvalidArg("trace setting '" + name + "' takes one value, got " +
                              std::to_string(values.size()));
  }
  switch (field) {
    case kLevel: return ParseLevels(values, &s->level);
    case kRate: return ParseUint32("trace_rate", values[0], &s->rate);
    case kCount: return ParseCount(values[0], &s->count);
    case kLogFrequency: return ParseUint32("log_frequency", values[0], &s->log_frequency);
  }
  return Status::Ok();
}

void CopyField(Field field, const TraceSettings& from, TraceSettings* to) {
  switch (field) {
    case kLevel: to->level = from.level; break;
    case kRate: to->rate = from.rate; break;
    case kCount: to->count = from.count; break;
    case kLogFrequency: to->log_frequency = from.log_frequency; break;
  }
}

bool Traces(const TraceSettings& s) { return s.level != 0 && s.rate != 0 && s.count != 0; }

// --trace-config opentelemetry,<key>=<text> (`value` is the whole flag value).
Status ApplyOtelSetting(const std::string& key, const std::string& text, const std::string& value,
                        OtelOptions* otel, std::vector<std::string>* warnings) {
  if (key == "url") {
    std::string host, port, target;
    INFERD_RETURN_IF_ERROR(ParseOtelUrl(text, &host, &port, &target).Prefixed("--trace-config: "));
    otel->url = text;
  } else if (key == "resource") {
    const size_t eq = text.find('=');
    if (eq == std::string::npos || eq == 0) {
      return Status::InvalidArg("--trace-config " + value + ": a resource is <key>=<value>");
    }
    const std::string name = text.substr(0, eq), attribute = text.substr(eq + 1);
    auto same = std::find_if(otel->resource.begin(), otel->resource.end(),
                             [&](const auto& kv) { return kv.first == name; });
    if (same != otel->resource.end()) same->second = attribute;
    else otel->resource.emplace_back(name, attribute);
  } else if (key == "bsp_max_queue_size" || key == "bsp_schedule_delay" || key == "bsp_max_export_batch_size") {
    uint32_t n = 0;
    INFERD_RETURN_IF_ERROR(ParseUint32(key, text, &n).Prefixed("--trace-config: "));
    if (n == 0 && key != "bsp_schedule_delay") {
      return Status::InvalidArg("--trace-config " + value + ": must be greater than 0");
    }
    (key == "bsp_max_queue_size" ? otel->max_queue_size
     : key == "bsp_schedule_delay" ? otel->schedule_delay_ms
                                   : otel->max_export_batch_size) = n;
  } else {
    warnings->push_back("--trace-config " + value + " has no effect: inferd's OpenTelemetry settings are url, "
                        "resource, bsp_max_queue_size, bsp_schedule_delay and bsp_max_export_batch_size");
  }
  return Status::Ok();
}

}  // namespace

Status ApplyTraceFlag(const std::string& flag, const std::string& value, TraceSettings* s,
                      std::vector<std::string>* warnings) {
  std::string key = flag, text = value;
  if (flag == "trace-config") {
    // [<mode>,]<key>=<value>
    const size_t eq = value.find('=');
    if (eq == std::string::npos) {
      return Status::InvalidArg("--trace-config: expected [<mode>,]<setting>=<value>, got '" + value + "'");
    }
    key = value.substr(0, eq);
    text = value.substr(eq + 1);
    const size_t comma = key.find(',');
    if (comma != std::string::npos) {
      const std::string mode = key.substr(0, comma);
      key = key.substr(comma + 1);
      if (mode == "opentelemetry") return ApplyOtelSetting(key, text, value, &s->otel, warnings);
      if (mode != "triton") {
        return Status::InvalidArg("--trace-config: unknown trace mode '" + mode + "' in '" + value + "'");
      }
    }
  } else {
    key = flag.substr(std::string("trace-").size());  // the deprecated flags
  }
  if (key == "file") {
    s->file = text;
  } else if (key == "level") {
    uint32_t level = 0;
    Status st = ParseLevels({text}, &level);
    if (!st.ok()) return Status::InvalidArg("--" + flag + ": " + st.message());
    // Repeated levels add up, as tritonserver's; OFF turns them all off.
    s->level = text == "OFF" ? 0 : (s->level | level);
  } else if (key == "rate" || key == "count" || key == "log-frequency") {
    const Field field = key == "rate" ? kRate : key == "count" ? kCount : kLogFrequency;
    Status st = SetField(field, key, {text}, s);
    if (!st.ok()) return Status::InvalidArg("--" + flag + ": " + st.message());
  } else if (key == "mode") {
    if (text != "triton" && text != "opentelemetry") {
      return Status::InvalidArg("--" + flag + ": unknown trace mode '" + text + "' (triton, opentelemetry)");
    }
    s->mode = text;
  } else {
    return Status::InvalidArg("--" + flag + ": unknown trace setting '" + key +
                              "' (rate, level, count, mode; triton,file; triton,log-frequency; "
                              "opentelemetry,url; opentelemetry,resource; opentelemetry,bsp_*)");
  }
  return Status::Ok();
}

std::vector<std::pair<std::string, std::vector<std::string>>> TraceSettingFields(const TraceSettings& s) {
  std::vector<std::string> levels;
  if (s.level & kTraceTimestamps) levels.push_back("TIMESTAMPS");
  if (s.level & kTraceTensors) levels.push_back("TENSORS");
  if (levels.empty()) levels.push_back("OFF");
  return {
      {"trace_level", levels},
      {"trace_rate", {std::to_string(s.rate)}},
      {"trace_count", {std::to_string(s.count)}},
      {"log_frequency", {std::to_string(s.log_frequency)}},
      {"trace_file", {s.file}},
      {"trace_mode", {s.mode}},
  };
}

RequestTrace::RequestTrace(uint64_t id, uint32_t level, uint32_t log_frequency, std::shared_ptr<TraceFile> file,
                           std::shared_ptr<OtelExporter> exporter)
    : id_(id),
      level_(level),
      log_frequency_(log_frequency),
      file_(std::move(file)),
      exporter_(std::move(exporter)),
      created_ns_(NowNs()) {}

void RequestTrace::SetTraceparent(const std::string& traceparent) {
  std::lock_guard<std::mutex> lock(mu_);
  traceparent_ = traceparent;
}

void RequestTrace::Stamp(const char* name, uint64_t ns) {
  std::lock_guard<std::mutex> lock(mu_);
  stamps_.emplace_back(name, ns);
}

void RequestTrace::AddTensor(const char* activity, const std::string& name, InferdDataType datatype,
                             const std::vector<int64_t>& shape,
                             std::span<const std::pair<const char*, uint64_t>> pieces) {
  // A larger tensor than the trace takes is not gathered at all: its data
  // stays empty (BYTES elements have no fixed size: 16 MiB of them at most).
  uint64_t total = 0;
  for (const auto& piece : pieces) total += piece.second;
  const uint64_t element = DataTypeByteSize(datatype);
  const uint64_t limit = element > 0 ? kMaxTracedElements * element : uint64_t{16} << 20;
  std::string bytes;
  if (total <= limit) {
    for (const auto& [data, size] : pieces) bytes.append(data, size);
  }
  std::string shape_text;
  for (int64_t d : shape) shape_text += (shape_text.empty() ? "" : ",") + std::to_string(d);
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
  w.StartObject();
  w.Key("id");
  w.Uint64(id_);
  w.Key("activity");
  w.String(activity);
  w.Key("tensor");
  w.StartObject();
  w.Key("name");
  w.String(IsValidUtf8(name) ? name.c_str() : "");
  w.Key("data");
  const std::string data = ElementsText(datatype, bytes);
  w.String(data.c_str(), static_cast<rapidjson::SizeType>(data.size()));
  w.Key("shape");
  w.String(shape_text.c_str());
  w.Key("dtype");
  w.String(DataTypeWireName(datatype));
  w.EndObject();
  w.EndObject();
  std::lock_guard<std::mutex> lock(mu_);
  tensors_.emplace_back(buffer.GetString(), buffer.GetSize());
}

void RequestTrace::End(const std::string& model_name, int64_t model_version, const std::string& request_id) {
  std::lock_guard<std::mutex> lock(mu_);
  ended_ = true;
  model_name_ = model_name;
  model_version_ = model_version;
  request_id_ = request_id;
}

RequestTrace::~RequestTrace() {
  // The last holder is gone: no other thread can stamp any more.
  if (!ended_) return;
  try {
    if (exporter_) Export();
    else if (file_) WriteToFile();
  } catch (const std::exception& e) {  // out of memory: the trace is lost, the server goes on
    LOG_ERROR("writing trace {} failed: {}", id_, e.what());
  }
}

void RequestTrace::Export() {
  const uint64_t end_ns = NowNs();
  timespec real{};
  clock_gettime(CLOCK_REALTIME, &real);
  const uint64_t real_ns = static_cast<uint64_t>(real.tv_sec) * 1'000'000'000u + static_cast<uint64_t>(real.tv_nsec);
  auto unix_ns = [&](uint64_t monotonic) { return real_ns - (end_ns - std::min(monotonic, end_ns)); };
  OtelSpan root, model, compute;
  if (!ParseTraceparent(traceparent_, &root.trace_id, &root.parent_span_id)) root.trace_id = RandomHexId(16);
  root.span_id = RandomHexId(8);
  root.name = "InferRequest";
  // From the first stamp (the frontend's read, before the trace was made).
  uint64_t first_ns = created_ns_;
  for (const auto& stamp : stamps_) first_ns = std::min(first_ns, stamp.second);
  root.start_ns = unix_ns(first_ns);
  root.end_ns = unix_ns(end_ns);
  model.trace_id = compute.trace_id = root.trace_id;
  model.span_id = RandomHexId(8);
  model.parent_span_id = root.span_id;
  model.name = model_name_;
  model.start_ns = root.start_ns;
  model.end_ns = root.end_ns;
  model.attributes = {{"triton.model_name", model_name_},
                      {"triton.model_version", model_version_},
                      {"triton.trace_id", static_cast<int64_t>(id_)},
                      {"triton.trace_parent_id", int64_t{0}}};
  if (!request_id_.empty()) model.attributes.emplace_back("triton.request_id", request_id_);
  compute.span_id = RandomHexId(8);
  compute.parent_span_id = model.span_id;
  compute.name = "compute";
  bool computed = false;
  for (const auto& [name, ns] : stamps_) {
    const std::string_view stamp(name);
    const uint64_t at = unix_ns(ns);
    if (stamp.rfind("HTTP_", 0) == 0 || stamp.rfind("GRPC_", 0) == 0) {
      root.events.emplace_back(name, at);
    } else if (stamp.rfind("COMPUTE_", 0) == 0) {
      if (stamp == "COMPUTE_START") {
        compute.start_ns = at;
        computed = true;
      }
      if (stamp == "COMPUTE_END") compute.end_ns = at;
      compute.events.emplace_back(name, at);
    } else {
      if (stamp == "REQUEST_START") model.start_ns = at;
      if (stamp == "REQUEST_END") model.end_ns = at;
      model.events.emplace_back(name, at);
    }
  }
  std::vector<OtelSpan> spans{std::move(root), std::move(model)};
  if (computed) {
    if (compute.end_ns == 0) compute.end_ns = spans[1].end_ns;
    spans.push_back(std::move(compute));
  }
  exporter_->Add(std::move(spans));
}

void RequestTrace::WriteToFile() {
  {
    rapidjson::StringBuffer buffer;
    rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
    w.StartObject();
    w.Key("id");
    w.Uint64(id_);
    w.Key("model_name");
    w.String(IsValidUtf8(model_name_) ? model_name_.c_str() : "");
    w.Key("model_version");
    w.Int64(model_version_);
    w.Key("request_id");
    w.String(IsValidUtf8(request_id_) ? request_id_.c_str() : "");
    w.EndObject();
    if (level_ & kTraceTimestamps) {
      buffer.Put(',');
      w.Reset(buffer);
      w.StartObject();
      w.Key("id");
      w.Uint64(id_);
      w.Key("timestamps");
      w.StartArray();
      for (const auto& [name, ns] : stamps_) {
        w.StartObject();
        w.Key("name");
        w.String(name);
        w.Key("ns");
        w.Uint64(ns);
        w.EndObject();
      }
      w.EndArray();
      w.EndObject();
    }
    for (const std::string& tensor : tensors_) {
      buffer.Put(',');
      for (char ch : tensor) buffer.Put(ch);
    }
    file_->Write(std::string(buffer.GetString(), buffer.GetSize()), log_frequency_);
  }
}

TraceManager::TraceManager(TraceSettings global)
    : startup_(global),
      file_(global.file.empty() || global.mode != "triton" ? nullptr : std::make_shared<TraceFile>(global.file)) {
  if (global.mode == "opentelemetry") {
    std::unique_ptr<OtelExporter> exporter;
    const Status st = OtelExporter::Create(global.otel, &exporter);
    if (st.ok()) exporter_ = std::move(exporter);
    else LOG_ERROR("OpenTelemetry tracing is off: {}", st.message());
  }
  global_.settings = std::move(global);
  std::lock_guard<std::mutex> lock(mu_);
  RefreshTracing();
  if (global_.settings.level != 0 && global_.settings.mode == "triton" && file_ == nullptr) {
    LOG_WARNING("tracing is on but no trace file is set (--trace-config triton,file=PATH): no traces "
                "are written");
  }
}

TraceManager::~TraceManager() = default;

void TraceManager::RefreshTracing() {
  bool on = Traces(global_.settings);
  for (const auto& [name, entry] : models_) on = on || Traces(entry.settings);
  tracing_.store(on && (file_ != nullptr || exporter_ != nullptr), std::memory_order_relaxed);
}

std::shared_ptr<RequestTrace> TraceManager::SampleSlow(const std::string& model) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = models_.find(model);
  Entry& e = it == models_.end() ? global_ : it->second;
  if (!Traces(e.settings)) return nullptr;
  if (++e.seen % e.settings.rate != 0) return nullptr;
  if (e.settings.count > 0 && --e.settings.count == 0) RefreshTracing();
  return std::make_shared<RequestTrace>(next_id_.fetch_add(1), e.settings.level, e.settings.log_frequency,
                                        file_, exporter_);
}

TraceSettings TraceManager::Get(const std::string& model) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = models_.find(model);
  return it == models_.end() ? global_.settings : it->second.settings;
}

Status TraceManager::Update(const std::string& model, const std::vector<TraceSettingChange>& changes) {
  std::lock_guard<std::mutex> lock(mu_);
  const bool for_model = !model.empty();
  auto existing = models_.find(model);
  Entry next = !for_model ? global_ : existing != models_.end() ? existing->second : Entry{global_.settings};
  for (const auto& [name, values] : changes) {
    if (name == "trace_file") {
      return Status::Unsupported("trace file location can not be updated through network protocol");
    }
    if (name == "trace_mode") {
      if (values && *values != std::vector<std::string>{startup_.mode}) {
        return Status::Unsupported("trace_mode cannot be changed through the network: it is '" + startup_.mode +
                                   "', set on the command line");
      }
      continue;
    }
    Field field;
    if (name == "trace_level") {
      field = kLevel;
    } else if (name == "trace_rate") {
      field = kRate;
    } else if (name == "trace_count") {
      field = kCount;
    } else if (name == "log_frequency") {
      field = kLogFrequency;
    } else {
      return Status::InvalidArg("unknown trace setting '" + name +
                                "' (trace_level, trace_rate, trace_count, log_frequency, trace_file, "
                                "trace_mode)");
    }
    if (!values) {  // cleared: a model follows the global value, the global one the command line's
      CopyField(field, for_model ? global_.settings : startup_, &next.settings);
      next.specified[field] = false;
      continue;
    }
    INFERD_RETURN_IF_ERROR(SetField(field, name, *values, &next.settings));
    next.specified[field] = true;
  }
  if (for_model) {
    bool own = false;
    for (bool specified : next.specified) own = own || specified;
    // A model with nothing of its own shares the global entry (and counter).
    if (own) {
      models_[model] = next;
    } else {
      models_.erase(model);
    }
  } else {
    global_ = next;
    for (auto& [name, entry] : models_) {
      for (Field f : {kLevel, kRate, kCount, kLogFrequency}) {
        if (!entry.specified[f]) CopyField(f, global_.settings, &entry.settings);
      }
    }
  }
  RefreshTracing();
  return Status::Ok();
}

}  // namespace inferd
