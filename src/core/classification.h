// The classification extension: an output asked for with a class count k is
// answered as BYTES strings "value:index[:label]", the k highest values first,
// per batch item; labels come from the output's label_filename.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"
#include "core/inference_response.h"

namespace inferd {

// Reads one label per line.
Status ReadLabelFile(const std::string& path, std::vector<std::string>* labels);

// Replaces `output` by its top-k classification. `batched`: the first
// dimension is the batch, classified item by item.
Status Classify(const std::vector<std::string>& labels, uint32_t k, bool batched,
                OutputTensor* output);

}  // namespace inferd
