#include "core/model_warmup.h"

#include <cstring>
#include <filesystem>
#include <random>

#include "common/datatype.h"
#include "common/file_read.h"
#include "core/inference_request.h"

namespace inferd {
namespace fs = std::filesystem;
namespace {

const inference::ModelInput* FindInput(const inference::ModelConfig& c, const std::string& name) {
  for (const auto& in : c.input())
    if (in.name() == name) return &in;
  return nullptr;
}

// Limits on what a config (possibly sent through the load API) can make a
// load allocate and run.
constexpr uint64_t kMaxWarmupInputBytes = 256ull << 20;
constexpr uint32_t kMaxWarmupCount = 1000;

// The bytes of one warmup input of `elements` elements.
Status MakeData(const std::string& what, const inference::ModelWarmup::Input& in, int64_t elements,
                const std::string& model_dir, std::string* data) {
  const DataType type = DataTypeFromConfig(in.data_type());
  const int64_t fixed = type == INFERD_TYPE_BYTES ? FixedByteSize(INFERD_TYPE_UINT32, elements)
                                                  : FixedByteSize(type, elements);
  if (fixed < 0 || static_cast<uint64_t>(fixed) > kMaxWarmupInputBytes) {
    return Status::InvalidArg(what + " needs more than the limit of " +
                              std::to_string(kMaxWarmupInputBytes) + " bytes of warmup data");
  }
  const size_t bytes = static_cast<size_t>(fixed);
  if (in.has_input_data_file()) {
    const fs::path path = fs::path(model_dir) / "warmup" / in.input_data_file();
    // BYTES elements have no fixed size: the whole file (bounded) is the data.
    Status st = type == INFERD_TYPE_BYTES ? ReadWholeFile(path.string(), kMaxWarmupInputBytes, data)
                                          : ReadFilePrefix(path.string(), bytes, data);
    return st.Prefixed(what + ": ");
  }
  if (type == INFERD_TYPE_BYTES) {  // empty strings (random falls back to zero, as in Triton)
    data->assign(bytes, '\0');
    return Status::Ok();
  }
  data->assign(bytes, '\0');
  if (in.has_random_data()) {
    std::mt19937 rng(1234);
    // Random bytes are fine for integers; floats get small finite values.
    if (type == INFERD_TYPE_FP32) {
      std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
      for (size_t i = 0; i < bytes / 4; ++i) {
        const float v = dist(rng);
        std::memcpy(data->data() + i * 4, &v, 4);
      }
    } else if (type == INFERD_TYPE_FP64) {
      std::uniform_real_distribution<double> dist(-1.0, 1.0);
      for (size_t i = 0; i < bytes / 8; ++i) {
        const double v = dist(rng);
        std::memcpy(data->data() + i * 8, &v, 8);
      }
    } else if (type != INFERD_TYPE_FP16 && type != INFERD_TYPE_BF16 && type != INFERD_TYPE_BOOL) {
      for (auto& c : *data) c = static_cast<char>(rng());
    }
  }
  return Status::Ok();
}

}  // namespace

Status ValidateWarmup(const inference::ModelConfig& c, const std::string& model_dir) {
  for (const auto& w : c.model_warmup()) {
    const std::string what = "model '" + c.name() + "' model_warmup '" + w.name() + "'";
    if (w.batch_size() < 1) return Status::InvalidArg(what + ": 'batch_size' must be >= 1");
    if (w.count() > kMaxWarmupCount) {
      return Status::InvalidArg(what + ": 'count' " + std::to_string(w.count()) + " is more than the " +
                                std::to_string(kMaxWarmupCount) + " runs allowed");
    }
    if (c.max_batch_size() == 0 && w.batch_size() != 1) {
      return Status::InvalidArg(what + ": 'batch_size' must be 1 for a model that does not batch");
    }
    if (c.max_batch_size() > 0 && w.batch_size() > static_cast<uint32_t>(c.max_batch_size())) {
      return Status::InvalidArg(what + ": 'batch_size' " + std::to_string(w.batch_size()) +
                                " exceeds max_batch_size " + std::to_string(c.max_batch_size()));
    }
    for (const auto& [name, in] : w.inputs()) {
      const inference::ModelInput* def = FindInput(c, name);
      if (def == nullptr) return Status::InvalidArg(what + ": '" + name + "' is not a model input");
      if (in.data_type() != def->data_type()) {
        return Status::InvalidArg(what + ": input '" + name + "' has data_type " +
                                  inference::DataType_Name(in.data_type()) + ", the model input " +
                                  inference::DataType_Name(def->data_type()));
      }
      if (in.input_data_type_case() == inference::ModelWarmup::Input::INPUT_DATA_TYPE_NOT_SET) {
        return Status::InvalidArg(what + ": input '" + name +
                                  "' needs zero_data, random_data or input_data_file");
      }
      for (int64_t d : in.dims()) {
        if (d < 0) return Status::InvalidArg(what + ": input '" + name + "' dims must be concrete");
      }
      // The sample is a request like any other: its shape must fit the input.
      bool fits = in.dims_size() == def->dims_size();
      for (int i = 0; fits && i < in.dims_size(); ++i) fits = def->dims(i) == -1 || def->dims(i) == in.dims(i);
      if (!fits && !def->has_reshape()) {
        return Status::InvalidArg(what + ": input '" + name + "' has dims " +
                                  ShapeToString({in.dims().begin(), in.dims().end()}) +
                                  ", which do not fit the model input's dims " +
                                  ShapeToString({def->dims().begin(), def->dims().end()}));
      }
      if (in.has_input_data_file()) {
        const fs::path rel(in.input_data_file());
        bool inside = rel.is_relative();
        for (const auto& part : rel) inside = inside && part != "..";
        if (!inside || rel.empty() || !fs::is_regular_file(fs::path(model_dir) / "warmup" / rel)) {
          return Status::InvalidArg(what + ": input_data_file '" + in.input_data_file() +
                                    "' must be a file in " + (fs::path(model_dir) / "warmup").string());
        }
      }
    }
    for (const auto& in : c.input()) {
      if (!in.optional() && !w.inputs().count(in.name())) {
        return Status::InvalidArg(what + ": has no data for input '" + in.name() + "'");
      }
    }
  }
  return Status::Ok();
}

Status MakeWarmupRequests(const inference::ModelConfig& c, const std::string& model_dir,
                          std::vector<RequestPtr>* requests) {
  const bool batching = c.max_batch_size() > 0;
  for (const auto& w : c.model_warmup()) {
    const std::string what = "model_warmup '" + w.name() + "'";
    // The sample's data is made once and shared by its repetitions.
    std::vector<InputTensor> inputs;
    std::vector<std::shared_ptr<const void>> owners;
    uint64_t total = 0;
    for (const auto& [name, in] : w.inputs()) {
      InputTensor t;
      t.name = name;
      t.datatype = DataTypeFromConfig(in.data_type());
      if (batching) t.shape.push_back(w.batch_size());
      t.shape.insert(t.shape.end(), in.dims().begin(), in.dims().end());
      auto data = std::make_shared<std::string>();
      INFERD_RETURN_IF_ERROR(MakeData(what + " input '" + name + "'", in, ElementCount(t.shape),
                                      model_dir, data.get()));
      total += data->size();
      if (total > kMaxWarmupInputBytes) {
        return Status::InvalidArg(what + " needs more than the limit of " +
                                  std::to_string(kMaxWarmupInputBytes) + " bytes of warmup data");
      }
      t.AddBuffer(data->data(), data->size());
      inputs.push_back(std::move(t));
      owners.push_back(std::move(data));
    }
    for (uint32_t n = 0; n < std::max<uint32_t>(1, w.count()); ++n) {
      auto r = std::make_shared<InferenceRequest>();
      r->id = "warmup:" + w.name();
      r->model_name = c.name();
      r->batch_size = batching ? w.batch_size() : 1;
      r->inputs = inputs;
      r->keep_alive.assign(owners.begin(), owners.end());
      for (const auto& out : c.output()) r->output_names.push_back(out.name());
      requests->push_back(std::move(r));
    }
  }
  return Status::Ok();
}

}  // namespace inferd
