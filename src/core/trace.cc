#include "core/trace.h"

#include <fmt/format.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <limits>

#include "common/datatype.h"
#include "common/half.h"
#include "common/logging.h"
#include "common/utf8.h"

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
      if (mode == "opentelemetry") {
        warnings->push_back("--trace-config " + value +
                            " has no effect: OpenTelemetry tracing is not built; inferd traces in "
                            "'triton' mode");
        return Status::Ok();
      }
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
    if (text == "opentelemetry") {
      warnings->push_back("--" + flag + "=" + value +
                          " has no effect: OpenTelemetry tracing is not built; inferd traces in 'triton' "
                          "mode");
    } else if (text != "triton") {
      return Status::InvalidArg("--" + flag + ": unknown trace mode '" + text + "'");
    }
  } else {
    return Status::InvalidArg("--" + flag + ": unknown trace setting '" + key +
                              "' (rate, level, count, mode; triton,file; triton,log-frequency)");
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

void RequestTrace::Stamp(const char* name, uint64_t ns) {
  std::lock_guard<std::mutex> lock(mu_);
  stamps_.emplace_back(name, ns);
}

void RequestTrace::AddTensor(const char* activity, const std::string& name, InferdDataType datatype,
                             const std::vector<int64_t>& shape,
                             const std::vector<std::pair<const char*, uint64_t>>& pieces) {
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
  } catch (const std::exception& e) {  // out of memory: the trace is lost, the server goes on
    LOG_ERROR("writing trace {} failed: {}", id_, e.what());
  }
}

TraceManager::TraceManager(TraceSettings global)
    : startup_(global), file_(global.file.empty() ? nullptr : std::make_shared<TraceFile>(global.file)) {
  global_.settings = std::move(global);
  std::lock_guard<std::mutex> lock(mu_);
  RefreshTracing();
  if (global_.settings.level != 0 && file_ == nullptr) {
    LOG_WARNING("tracing is on but no trace file is set (--trace-config triton,file=PATH): no traces "
                "are written");
  }
}

TraceManager::~TraceManager() = default;

void TraceManager::RefreshTracing() {
  bool on = Traces(global_.settings);
  for (const auto& [name, entry] : models_) on = on || Traces(entry.settings);
  tracing_.store(on && file_ != nullptr, std::memory_order_relaxed);
}

std::shared_ptr<RequestTrace> TraceManager::SampleSlow(const std::string& model) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = models_.find(model);
  Entry& e = it == models_.end() ? global_ : it->second;
  if (!Traces(e.settings)) return nullptr;
  if (++e.seen % e.settings.rate != 0) return nullptr;
  if (e.settings.count > 0 && --e.settings.count == 0) RefreshTracing();
  return std::make_shared<RequestTrace>(next_id_.fetch_add(1), e.settings.level, e.settings.log_frequency,
                                        file_);
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
      if (values && *values != std::vector<std::string>{"triton"}) {
        return Status::Unsupported("trace_mode cannot be changed: inferd traces in 'triton' mode only");
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
