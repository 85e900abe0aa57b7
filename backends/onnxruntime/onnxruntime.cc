// The onnxruntime backend: runs ONNX models with ONNX Runtime's C/C++ API.
//
// One Ort::Session per instance (instance_group count N gives N sessions),
// each used only by its instance's thread; with the model parameter
// share_session_between_instances "true", one per device, which its instances
// run concurrently (Session::Run is thread-safe): the weights are loaded and
// optimized once instead of N times. A batch of requests runs as one
// Session::Run with the inputs concatenated along the batch dimension; the
// outputs are split back per request. Only the outputs some request asked for
// are computed and copied.
#include <inferd/backend.h>
#include <onnxruntime_cxx_api.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "../common/guard.h"
#include "ort_model.h"

namespace {

using inferd::ort::ModelSpec;
using inferd::ort::TensorSpec;

const InferdCoreApi* api = nullptr;
std::unique_ptr<Ort::Env> env;

InferdError* Error(const std::string& message, InferdErrorCode code = INFERD_ERROR_INVALID_ARG) {
  return api->ErrorNew(code, ("onnxruntime: " + message).c_str());
}

struct InstanceState {
  std::shared_ptr<Ort::Session> session;  // shared by the model's instances on one device when asked to
};

// A model's state: its parsed config, and the sessions its instances take.
struct ModelState {
  ModelSpec spec;
  std::mutex mutex;  // instances may initialize concurrently
  // The session InitializeModel read the model's metadata from, when it was
  // built with the instances' own options (sessions on ONNX Runtime's CPU
  // provider, which do not depend on the device id): the first instance takes
  // it over, so a model of N instances costs N sessions at load, not N + 1.
  std::shared_ptr<Ort::Session> spare;
  // share_session_between_instances: the session of each (is GPU, device id).
  std::map<std::pair<bool, int32_t>, std::weak_ptr<Ort::Session>> shared;
};

const ModelSpec& SpecOf(InferdInstance* instance) {
  return static_cast<ModelState*>(api->ModelState(api->InstanceModel(instance)))->spec;
}

size_t ElementSize(InferdDataType t) {
  switch (t) {
    case INFERD_TYPE_BOOL: case INFERD_TYPE_UINT8: case INFERD_TYPE_INT8: return 1;
    case INFERD_TYPE_UINT16: case INFERD_TYPE_INT16: case INFERD_TYPE_FP16: case INFERD_TYPE_BF16: return 2;
    case INFERD_TYPE_UINT32: case INFERD_TYPE_INT32: case INFERD_TYPE_FP32: return 4;
    case INFERD_TYPE_UINT64: case INFERD_TYPE_INT64: case INFERD_TYPE_FP64: return 8;
    default: return 0;
  }
}

int64_t Product(const std::vector<int64_t>& s, size_t from = 0) {
  int64_t n = 1;
  for (size_t i = from; i < s.size(); ++i) n *= s[i];
  return n;
}

// The shape the model sees for one batch item: the request's non-batch dims,
// or the config's reshape with any -1 resolved from the element count.
std::vector<int64_t> ItemShape(const TensorSpec& spec, const int64_t* shape, uint32_t dims, bool batching) {
  std::vector<int64_t> item(shape + (batching ? 1 : 0), shape + dims);
  if (!spec.has_reshape) return item;
  std::vector<int64_t> r = spec.reshape;
  int64_t fixed = 1, unknown = -1;
  for (size_t i = 0; i < r.size(); ++i) {
    if (r[i] == -1) unknown = static_cast<int64_t>(i);
    else fixed *= r[i];
  }
  if (unknown >= 0) r[static_cast<size_t>(unknown)] = fixed == 0 ? 0 : Product(item) / fixed;
  return r;
}

// Appends the BYTES elements (4-byte length + bytes) in `data` as strings.
void ParseStrings(const char* data, uint64_t size, std::vector<std::string>* out) {
  uint64_t off = 0;
  while (off + 4 <= size) {
    uint32_t len;
    std::memcpy(&len, data + off, 4);
    off += 4;
    out->emplace_back(data + off, std::min<uint64_t>(len, size - off));
    off += len;
  }
}

// Everything one Run needs to keep alive.
struct RunInputs {
  std::vector<std::string> names;
  std::vector<Ort::Value> values;
  std::vector<std::vector<char>> buffers;  // concatenated batches
};

InferdError* FindInput(InferdRequest* r, const std::string& name, uint32_t* index) {
  const uint32_t n = api->RequestInputCount(r);
  for (uint32_t i = 0; i < n; ++i) {
    const char* in_name;
    if (InferdError* e = api->RequestInput(r, i, &in_name, nullptr, nullptr, nullptr, nullptr)) return e;
    if (name == in_name) {
      *index = i;
      return nullptr;
    }
  }
  return Error("request has no input '" + name + "'");
}

InferdError* GatherInput(const ModelSpec& spec, const TensorSpec& t, InferdRequest** requests,
                         uint32_t count, int64_t total_batch, RunInputs* run) {
  const bool batching = spec.max_batch_size > 0;
  static const Ort::MemoryInfo cpu = Ort::MemoryInfo::CreateCpu(OrtArenaAllocator, OrtMemTypeDefault);
  std::vector<int64_t> shape;
  std::vector<std::string> strings;
  std::vector<std::pair<const void*, uint64_t>> pieces;
  uint64_t bytes = 0;
  for (uint32_t r = 0; r < count; ++r) {
    uint32_t index = 0;
    if (InferdError* e = FindInput(requests[r], t.name, &index)) return e;
    InferdDataType type;
    const int64_t* s;
    uint32_t dims;
    uint64_t size;
    if (InferdError* e = api->RequestInput(requests[r], index, nullptr, &type, &s, &dims, &size)) return e;
    if (r == 0) {
      shape = ItemShape(t, s, dims, batching);
      if (batching) shape.insert(shape.begin(), total_batch);
    }
    uint32_t buffers = 0;
    if (InferdError* e = api->RequestInputBufferCount(requests[r], index, &buffers)) return e;
    for (uint32_t b = 0; b < buffers; ++b) {
      const void* data;
      uint64_t n;
      if (InferdError* e = api->RequestInputBuffer(requests[r], index, b, &data, &n)) return e;
      pieces.emplace_back(data, n);
      bytes += n;
    }
  }
  run->names.push_back(t.name);
  if (t.datatype == INFERD_TYPE_BYTES) {
    std::string joined;
    for (const auto& [data, n] : pieces) joined.append(static_cast<const char*>(data), n);
    ParseStrings(joined.data(), joined.size(), &strings);
    Ort::AllocatorWithDefaultOptions alloc;
    Ort::Value v = Ort::Value::CreateTensor(alloc, shape.data(), shape.size(), ONNX_TENSOR_ELEMENT_DATA_TYPE_STRING);
    std::vector<const char*> ptrs;
    for (const auto& s : strings) ptrs.push_back(s.c_str());
    // ORT copies the strings; embedded NULs are not representable in ORT strings.
    v.FillStringTensor(ptrs.data(), ptrs.size());
    run->values.push_back(std::move(v));
    return nullptr;
  }
  void* data;
  if (pieces.size() == 1) {
    data = const_cast<void*>(pieces[0].first);  // ORT reads inputs only: no copy
  } else {
    auto& buffer = run->buffers.emplace_back(bytes);
    char* dst = buffer.data();
    for (const auto& [src, n] : pieces) {
      std::memcpy(dst, src, n);
      dst += n;
    }
    data = buffer.data();
  }
  run->values.push_back(Ort::Value::CreateTensor(cpu, data, bytes, shape.data(), shape.size(),
                                                 inferd::ort::ToOrtType(t.datatype)));
  return nullptr;
}

// Writes rows [first, first + rows) of `value` as output `name` of `response`.
InferdError* ScatterOutput(const ModelSpec& spec, const std::string& name, Ort::Value& value,
                           int64_t first, int64_t rows, InferdResponse* response) {
  const bool batching = spec.max_batch_size > 0;
  auto info = value.GetTensorTypeAndShapeInfo();
  std::vector<int64_t> shape = info.GetShape();
  const InferdDataType type = inferd::ort::FromOrtType(info.GetElementType());
  if (type == INFERD_TYPE_INVALID) return Error("output '" + name + "' has an unsupported type");
  const int64_t total = static_cast<int64_t>(info.GetElementCount());
  int64_t row_elements = total, begin = 0;
  if (batching) {
    if (shape.empty() || shape[0] < first + rows) {
      return Error("output '" + name + "' has no batch dimension to split");
    }
    row_elements = shape[0] == 0 ? 0 : total / shape[0];
    begin = first * row_elements;
    shape[0] = rows;
  }
  // A reshaped output goes back to the config's dims.
  for (const auto& o : spec.outputs) {
    if (o.name != name || !o.has_reshape) continue;
    std::vector<int64_t> dims = o.dims;
    if (Product(dims) >= 0 && std::find(dims.begin(), dims.end(), -1) == dims.end()) {
      if (batching) dims.insert(dims.begin(), rows);
      shape = dims;
    }
  }
  const int64_t elements = batching ? rows * row_elements : total;
  void* out = nullptr;
  if (type == INFERD_TYPE_BYTES) {
    std::string serialized;
    for (int64_t i = begin; i < begin + elements; ++i) {
      std::string s = value.GetStringTensorElement(static_cast<size_t>(i));
      const uint32_t len = static_cast<uint32_t>(s.size());
      serialized.append(reinterpret_cast<const char*>(&len), 4);
      serialized += s;
    }
    if (InferdError* e = api->ResponseOutput(response, name.c_str(), type, shape.data(),
                                             static_cast<uint32_t>(shape.size()), serialized.size(), &out))
      return e;
    std::memcpy(out, serialized.data(), serialized.size());
    return nullptr;
  }
  const size_t esize = ElementSize(type);
  const uint64_t bytes = static_cast<uint64_t>(elements) * esize;
  if (InferdError* e = api->ResponseOutput(response, name.c_str(), type, shape.data(),
                                           static_cast<uint32_t>(shape.size()), bytes, &out))
    return e;
  std::memcpy(out, static_cast<const char*>(value.GetTensorRawData()) + begin * static_cast<int64_t>(esize), bytes);
  return nullptr;
}

// Whether every request has the same non-batch shape for every input (a
// ragged batch, allow_ragged_batch, may not) so they can run as one.
bool SameShapes(InferdRequest** requests, uint32_t count, bool batching) {
  const uint32_t inputs = api->RequestInputCount(requests[0]);
  for (uint32_t i = 0; i < inputs; ++i) {
    const char* name;
    const int64_t* first;
    uint32_t first_dims;
    if (InferdError* e = api->RequestInput(requests[0], i, &name, nullptr, &first, &first_dims, nullptr)) {
      api->ErrorDelete(e);
      return false;
    }
    for (uint32_t r = 1; r < count; ++r) {
      uint32_t index;
      if (InferdError* e = FindInput(requests[r], name, &index)) {
        api->ErrorDelete(e);
        return false;
      }
      const int64_t* s;
      uint32_t dims;
      if (InferdError* e = api->RequestInput(requests[r], index, nullptr, nullptr, &s, &dims, nullptr)) {
        api->ErrorDelete(e);
        return false;
      }
      if (dims != first_dims) return false;
      for (uint32_t d = batching ? 1 : 0; d < dims; ++d)
        if (s[d] != first[d]) return false;
    }
  }
  return true;
}

InferdError* ExecuteBatch(InferdInstance* instance, InferdRequest** requests, uint32_t count);

InferdError* Execute(InferdInstance* instance, InferdRequest** requests, uint32_t count) {
  const ModelSpec& spec = SpecOf(instance);
  if (count > 1 && !SameShapes(requests, count, spec.max_batch_size > 0)) {
    for (uint32_t r = 0; r < count; ++r) {
      if (InferdError* e = ExecuteBatch(instance, requests + r, 1)) api->RequestRespondError(requests[r], e);
    }
    return nullptr;
  }
  return ExecuteBatch(instance, requests, count);
}

InferdError* ExecuteBatch(InferdInstance* instance, InferdRequest** requests, uint32_t count) {
  auto* state = static_cast<InstanceState*>(api->InstanceState(instance));
  const ModelSpec& spec = SpecOf(instance);
  const bool batching = spec.max_batch_size > 0;

  std::vector<int64_t> first_row(count), rows(count);
  int64_t total_batch = 0;
  for (uint32_t r = 0; r < count; ++r) {
    const int64_t* s;
    uint32_t dims = 0;
    if (InferdError* e = api->RequestInput(requests[r], 0, nullptr, nullptr, &s, &dims, nullptr)) return e;
    first_row[r] = total_batch;
    rows[r] = batching && dims > 0 ? s[0] : 1;
    total_batch += rows[r];
  }

  RunInputs run;
  for (const auto& t : spec.inputs) {
    uint32_t unused;
    InferdError* missing = FindInput(requests[0], t.name, &unused);
    if (missing) {  // an optional input the request left out
      api->ErrorDelete(missing);
      continue;
    }
    if (InferdError* e = GatherInput(spec, t, requests, count, total_batch, &run)) return e;
  }
  // Outputs any request asked for, in config order.
  std::vector<std::string> wanted;
  for (const auto& o : spec.outputs) {
    for (uint32_t r = 0; r < count && (wanted.empty() || wanted.back() != o.name); ++r) {
      for (uint32_t i = 0; i < api->RequestOutputCount(requests[r]); ++i) {
        if (o.name == api->RequestOutputName(requests[r], i)) {
          wanted.push_back(o.name);
          break;
        }
      }
    }
  }
  std::vector<const char*> in_names, out_names;
  for (const auto& n : run.names) in_names.push_back(n.c_str());
  for (const auto& n : wanted) out_names.push_back(n.c_str());

  const uint64_t input_end = api->Now();
  std::vector<Ort::Value> outputs = state->session->Run(Ort::RunOptions{nullptr}, in_names.data(),
                                                        run.values.data(), run.values.size(),
                                                        out_names.data(), out_names.size());
  const uint64_t infer_end = api->Now();

  for (uint32_t r = 0; r < count; ++r) {
    InferdResponse* response = nullptr;
    if (InferdError* e = api->ResponseNew(requests[r], &response)) {
      api->RequestRespondError(requests[r], e);
      continue;
    }
    InferdError* error = nullptr;
    for (uint32_t i = 0; i < api->RequestOutputCount(requests[r]) && error == nullptr; ++i) {
      const std::string name = api->RequestOutputName(requests[r], i);
      const size_t k = static_cast<size_t>(std::find(wanted.begin(), wanted.end(), name) - wanted.begin());
      error = ScatterOutput(spec, name, outputs[k], first_row[r], rows[r], response);
    }
    api->ResponseSend(response, INFERD_RESPONSE_FINAL, error);
  }
  api->InstanceReportComputeTimes(instance, input_end, infer_end);
  return nullptr;
}

// What --backend-config sets for this backend, as Triton's onnxruntime
// backend reads it: default-max-batch-size (the max_batch_size auto-complete
// gives a model that can batch; 0 turns batching off; default 4) and
// intra_op_thread_count / inter_op_thread_count (for models whose config
// does not set them: the model config comes first, as in Triton).
struct BackendDefaults {
  int default_max_batch_size = 4;
  int intra_op_threads = 0;
  int inter_op_threads = 0;
};

bool ReadBackendDefaults(InferdModel* model, BackendDefaults* out, std::string* error) {
  if (api->api_version < ((1u << 16) | 1u)) return true;  // a server without --backend-config
  auto read = [&](const char* key, int* target) {
    const char* text = api->ModelBackendConfig(model, key);
    if (!text) return true;
    char* end = nullptr;
    errno = 0;
    const long n = std::strtol(text, &end, 10);
    if (*text == '\0' || *end != '\0' || errno != 0 || n < 0 || n > (1 << 20)) {
      *error = std::string("--backend-config=onnxruntime,") + key + ": expected an integer >= 0, got '" + text + "'";
      return false;
    }
    *target = static_cast<int>(n);
    return true;
  };
  return read("default-max-batch-size", &out->default_max_batch_size) &&
         read("intra_op_thread_count", &out->intra_op_threads) &&
         read("inter_op_thread_count", &out->inter_op_threads);
}

// Parses the config, completes it from the model when allowed, and checks
// it against the model's inputs and outputs.
InferdError* InitializeModel(InferdModel* model) {
  auto state = std::make_unique<ModelState>();
  std::string error;
  BackendDefaults defaults;
  if (!ReadBackendDefaults(model, &defaults, &error)) return api->ErrorNew(INFERD_ERROR_INVALID_ARG, error.c_str());
  auto parse = [&](ModelSpec* spec) {
    *spec = ModelSpec{};
    if (!inferd::ort::ParseModelSpec(api->ModelConfigJson(model), api->ModelVersionPath(model), spec, &error))
      return false;
    if (spec->settings.intra_op_threads == 0) spec->settings.intra_op_threads = defaults.intra_op_threads;
    if (spec->settings.inter_op_threads == 0) spec->settings.inter_op_threads = defaults.inter_op_threads;
    return true;
  };
  ModelSpec& spec = state->spec;
  if (!parse(&spec)) return api->ErrorNew(INFERD_ERROR_INVALID_ARG, error.c_str());
  try {
    // The session the metadata is read from. On the CPU provider it is built
    // as the instances' are and kept for the first of them; with CUDA or
    // TensorRT (bound to a device) a cheap unoptimized one is thrown away.
    const inferd::ort::SessionSettings built_with = spec.settings;
    const bool reusable = !built_with.use_cuda && !built_with.use_tensorrt;
    Ort::SessionOptions options;
    if (reusable) {
      options = inferd::ort::MakeSessionOptions(built_with, 0);
    } else {
      options.SetIntraOpNumThreads(1);
      options.SetGraphOptimizationLevel(ORT_DISABLE_ALL);
    }
    auto session = std::make_shared<Ort::Session>(*env, spec.model_path.c_str(), options);
    if (api->ModelAutoCompleteAllowed(model)) {
      const std::string completed = inferd::ort::AutoCompleteConfig(api->ModelConfigJson(model), *session,
                                                                     defaults.default_max_batch_size, &error);
      if (!error.empty()) return api->ErrorNew(INFERD_ERROR_INVALID_ARG, error.c_str());
      if (!completed.empty()) {
        if (InferdError* e = api->ModelSetConfigJson(model, completed.c_str())) return e;
        if (!parse(&spec)) return api->ErrorNew(INFERD_ERROR_INVALID_ARG, error.c_str());
      }
    }
    if (!inferd::ort::ValidateAgainstModel(spec, *session, &error)) {
      return Error(error, INFERD_ERROR_INVALID_ARG);
    }
    // Completing the config adds tensors and batching, never session
    // settings; the check keeps that true if it ever changes.
    if (reusable && spec.settings == built_with) state->spare = std::move(session);
  } catch (const Ort::Exception& e) {
    return Error("cannot load " + spec.model_path + ": " + e.what(), INFERD_ERROR_INVALID_ARG);
  }
  api->ModelSetState(model, state.release());
  return nullptr;
}

// The session for a new instance: the model's spare one first; with
// share_session_between_instances, the one its device already has; else a
// new one.
std::shared_ptr<Ort::Session> SessionFor(ModelState& model, InferdInstance* instance) {
  const bool share = model.spec.settings.share_session;
  const std::pair<bool, int32_t> device{api->InstanceIsGpu(instance) != 0, api->InstanceDeviceId(instance)};
  std::unique_lock<std::mutex> lock(model.mutex);
  std::shared_ptr<Ort::Session> session = share ? model.shared[device].lock() : nullptr;
  if (session) {
    api->Log(INFERD_LOG_VERBOSE, __FILE__, __LINE__,
             (std::string("onnxruntime: instance ") + api->InstanceName(instance) +
              " shares its device's session (share_session_between_instances)")
                 .c_str());
  }
  if (!session && model.spare) session = std::move(model.spare);
  if (!session) {
    // Unshared sessions are built concurrently; a shared one under the lock,
    // so that the device's other instances wait for it instead of each
    // building their own.
    if (!share) lock.unlock();
    Ort::SessionOptions options = inferd::ort::MakeSessionOptions(model.spec.settings, device.second);
    session = std::make_shared<Ort::Session>(*env, model.spec.model_path.c_str(), options);
  }
  if (share) model.shared[device] = session;
  return session;
}

}  // namespace

extern "C" {

INFERD_EXPORT uint32_t InferdBackendApiVersion(void) { return INFERD_BACKEND_API_VERSION; }

INFERD_EXPORT InferdError* InferdBackendInitialize(const InferdCoreApi* core) {
  api = core;
  try {
    env = std::make_unique<Ort::Env>(ORT_LOGGING_LEVEL_WARNING, "inferd");
    // No telemetry events either (inferd's main() also sets
    // ORT_DISABLE_TELEMETRY, which is what keeps ONNX Runtime 1.30 from
    // contacting its telemetry endpoint at all).
    env->DisableTelemetryEvents();
    const std::string version = Ort::GetVersionString();
    api->Log(INFERD_LOG_INFO, __FILE__, __LINE__, ("ONNX Runtime " + version).c_str());
  } catch (const std::exception& e) {  // Ort::Exception among them
    return Error(e.what(), INFERD_ERROR_INTERNAL);
  }
  return nullptr;
}

INFERD_EXPORT InferdError* InferdBackendFinalize(void) {
  env.reset();
  return nullptr;
}

INFERD_EXPORT InferdError* InferdModelInitialize(InferdModel* model) {
  return inferd_backend::Guarded(api, "onnxruntime InferdModelInitialize", [&] { return InitializeModel(model); });
}

INFERD_EXPORT InferdError* InferdModelFinalize(InferdModel* model) {
  delete static_cast<ModelState*>(api->ModelState(model));
  return nullptr;
}

INFERD_EXPORT InferdError* InferdInstanceInitialize(InferdInstance* instance) {
  return inferd_backend::Guarded(api, "onnxruntime InferdInstanceInitialize", [&]() -> InferdError* {
    auto& model = *static_cast<ModelState*>(api->ModelState(api->InstanceModel(instance)));
    try {
      auto state = std::make_unique<InstanceState>();
      state->session = SessionFor(model, instance);
      api->InstanceSetState(instance, state.release());
    } catch (const Ort::Exception& e) {
      return Error(std::string("instance ") + api->InstanceName(instance) + ": " + e.what(), INFERD_ERROR_INTERNAL);
    }
    return nullptr;
  });
}

INFERD_EXPORT InferdError* InferdInstanceFinalize(InferdInstance* instance) {
  delete static_cast<InstanceState*>(api->InstanceState(instance));
  return nullptr;
}

INFERD_EXPORT InferdError* InferdInstanceExecute(InferdInstance* instance, InferdRequest** requests,
                                                 uint32_t count) {
  try {
    return Execute(instance, requests, count);
  } catch (const Ort::Exception& e) {
    return Error(e.what(), INFERD_ERROR_INTERNAL);
  } catch (const std::exception& e) {
    return Error(e.what(), INFERD_ERROR_INTERNAL);
  }
}

}  // extern "C"

