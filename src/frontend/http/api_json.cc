#include "frontend/http/api_json.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace inferd::http {
namespace {

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

void WriteTensors(Writer& w, const char* key, const auto& tensors, bool batched) {
  w.Key(key);
  w.StartArray();
  for (const auto& t : tensors) {
    w.StartObject();
    w.Key("name");
    w.String(t.name().c_str());
    w.Key("datatype");
    w.String(DataTypeWireName(DataTypeFromConfig(t.data_type())));
    w.Key("shape");
    w.StartArray();
    if (batched) w.Int64(-1);
    for (int64_t d : t.dims()) w.Int64(d);
    w.EndArray();
    w.EndObject();
  }
  w.EndArray();
}

void WriteDuration(Writer& w, const char* key, const StatDuration& d) {
  w.Key(key);
  w.StartObject();
  w.Key("count");
  w.Uint64(d.count);
  w.Key("ns");
  w.Uint64(d.ns);
  w.EndObject();
}

}  // namespace

std::string ServerMetadataJson(const std::string& name, const std::string& version) {
  rapidjson::StringBuffer sb;
  Writer w(sb);
  w.StartObject();
  w.Key("name");
  w.String(name.c_str());
  w.Key("version");
  w.String(version.c_str());
  w.Key("extensions");
  w.StartArray();
  for (const auto& e : ServerExtensions()) w.String(e.c_str());
  w.EndArray();
  w.EndObject();
  return sb.GetString();
}

std::string LogSettingsJson(const LogSettings& s) {
  rapidjson::StringBuffer sb;
  Writer w(sb);
  w.StartObject();
  w.Key("log_file");
  w.String(s.file.c_str());
  w.Key("log_info");
  w.Bool(s.info);
  w.Key("log_warning");
  w.Bool(s.warning);
  w.Key("log_error");
  w.Bool(s.error);
  w.Key("log_verbose_level");
  w.Int(s.verbose);
  w.Key("log_format");
  w.String(LogFormatName(s.format));
  w.EndObject();
  return sb.GetString();
}

std::string TraceSettingsJson(const TraceSettings& s) {
  rapidjson::StringBuffer sb;
  Writer w(sb);
  w.StartObject();
  for (const auto& [name, values] : TraceSettingFields(s)) {
    w.Key(name.c_str());
    // Triton's shape: the level is a list, every other setting a string.
    if (name == "trace_level") w.StartArray();
    for (const auto& value : values) w.String(value.c_str(), static_cast<rapidjson::SizeType>(value.size()));
    if (name == "trace_level") w.EndArray();
  }
  w.EndObject();
  return sb.GetString();
}

std::string ModelMetadataJson(const Model& model, const std::vector<int64_t>& versions) {
  const auto& c = model.config();
  rapidjson::StringBuffer sb;
  Writer w(sb);
  w.StartObject();
  w.Key("name");
  w.String(c.name().c_str());
  w.Key("versions");
  w.StartArray();
  for (int64_t v : versions) w.String(std::to_string(v).c_str());
  w.EndArray();
  w.Key("platform");
  w.String(model.platform().c_str());
  WriteTensors(w, "inputs", c.input(), c.max_batch_size() > 0);
  WriteTensors(w, "outputs", c.output(), c.max_batch_size() > 0);
  w.EndObject();
  return sb.GetString();
}

std::string ModelStatsJson(const std::vector<std::shared_ptr<Model>>& models) {
  rapidjson::StringBuffer sb;
  Writer w(sb);
  w.StartObject();
  w.Key("model_stats");
  w.StartArray();
  for (const auto& m : models) {
    const ModelStatsSnapshot s = m->stats().Snapshot();
    w.StartObject();
    w.Key("name");
    w.String(m->name().c_str());
    w.Key("version");
    w.String(std::to_string(m->version()).c_str());
    w.Key("last_inference");
    w.Uint64(s.last_inference_ms);
    w.Key("inference_count");
    w.Uint64(s.inference_count);
    w.Key("execution_count");
    w.Uint64(s.execution_count);
    w.Key("inference_stats");
    w.StartObject();
    WriteDuration(w, "success", s.success);
    WriteDuration(w, "fail", s.fail);
    WriteDuration(w, "queue", s.queue);
    WriteDuration(w, "compute_input", s.compute_input);
    WriteDuration(w, "compute_infer", s.compute_infer);
    WriteDuration(w, "compute_output", s.compute_output);
    WriteDuration(w, "cache_hit", s.cache_hit);
    WriteDuration(w, "cache_miss", s.cache_miss);
    w.EndObject();
    w.Key("batch_stats");
    w.StartArray();
    for (const auto& [size, b] : s.batch_stats) {
      w.StartObject();
      w.Key("batch_size");
      w.Uint64(size);
      WriteDuration(w, "compute_input", b.compute_input);
      WriteDuration(w, "compute_infer", b.compute_infer);
      WriteDuration(w, "compute_output", b.compute_output);
      w.EndObject();
    }
    w.EndArray();
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return sb.GetString();
}

std::string RepositoryIndexJson(const std::vector<ModelIndexEntry>& index, bool ready_only) {
  rapidjson::StringBuffer sb;
  Writer w(sb);
  w.StartArray();
  for (const auto& e : index) {
    if (ready_only && e.state != "READY") continue;
    w.StartObject();
    w.Key("name");
    w.String(e.name.c_str());
    if (!e.version.empty()) {
      w.Key("version");
      w.String(e.version.c_str());
    }
    if (!e.state.empty()) {
      w.Key("state");
      w.String(e.state.c_str());
    }
    if (!e.reason.empty()) {
      w.Key("reason");
      w.String(e.reason.c_str());
    }
    w.EndObject();
  }
  w.EndArray();
  return sb.GetString();
}

std::string SharedMemoryStatusJson(const std::vector<SharedMemoryRegionInfo>& regions) {
  rapidjson::StringBuffer sb;
  Writer w(sb);
  w.StartArray();
  for (const auto& r : regions) {
    w.StartObject();
    w.Key("name");
    w.String(r.name.data(), static_cast<rapidjson::SizeType>(r.name.size()));
    w.Key("key");
    w.String(r.key.data(), static_cast<rapidjson::SizeType>(r.key.size()));
    w.Key("offset");
    w.Uint64(r.offset);
    w.Key("byte_size");
    w.Uint64(r.byte_size);
    w.EndObject();
  }
  w.EndArray();
  return sb.GetString();
}

}  // namespace inferd::http
