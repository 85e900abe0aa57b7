// model_warmup: synthetic requests each instance runs before its model is
// READY, so the first real request does not pay for lazy initialization.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"
#include "core/scheduler/scheduler.h"
#include "model_config.pb.h"

namespace inferd {

// Checks the samples against the config (inputs, types, batch size, files).
Status ValidateWarmup(const inference::ModelConfig& config, const std::string& model_dir);

// One request per sample and repetition (`count`, at least once), with zero,
// random or file data (<model_dir>/warmup/<file>), every output requested.
Status MakeWarmupRequests(const inference::ModelConfig& config, const std::string& model_dir,
                          std::vector<RequestPtr>* requests);

}  // namespace inferd
