// JSON bodies of the KServe v2 / Triton REST endpoints other than infer.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/logging.h"
#include "core/model.h"
#include "core/server.h"

namespace inferd::http {

// GET /v2
std::string ServerMetadataJson(const std::string& name, const std::string& version);

// GET/POST /v2/logging: every setting, as Triton's logging extension answers.
std::string LogSettingsJson(const LogSettings& settings);
// GET/POST /v2/trace/setting: the settings in effect, in Triton's shape.
std::string TraceSettingsJson(const TraceSettings& settings);
// GET /v2/models/{m}[/versions/{v}]: every loaded version is listed.
std::string ModelMetadataJson(const Model& model, const std::vector<int64_t>& versions);
// GET /v2/models[/{m}[/versions/{v}]]/stats
std::string ModelStatsJson(const std::vector<std::shared_ptr<Model>>& models);
// POST /v2/repository/index; `ready_only` keeps READY models only.
std::string RepositoryIndexJson(const std::vector<ModelIndexEntry>& index, bool ready_only);
// GET /v2/systemsharedmemory[/region/{name}]/status: [{"name", "key", "offset", "byte_size"}].
std::string SharedMemoryStatusJson(const std::vector<SharedMemoryRegionInfo>& regions);

}  // namespace inferd::http
