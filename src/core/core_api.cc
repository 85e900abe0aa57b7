#include "core/core_api.h"

#include <cstring>

#include "common/logging.h"
#include "core/inference_request.h"
#include "core/model.h"
#include "core/model_instance.h"

namespace inferd {
namespace {

Model* AsModel(const InferdModel* m) { return static_cast<Model*>(const_cast<InferdModel*>(m)); }
ModelInstance* AsInstance(const InferdInstance* i) {
  return static_cast<ModelInstance*>(const_cast<InferdInstance*>(i));
}
InferenceRequest* AsRequest(const InferdRequest* r) {
  return static_cast<InferenceRequest*>(const_cast<InferdRequest*>(r));
}
InferenceResponse* AsResponse(InferdResponse* r) { return static_cast<InferenceResponse*>(r); }

InferdErrorCode CodeFromStatus(Status::Code code) {
  switch (code) {
    case Status::Code::kInvalidArg: return INFERD_ERROR_INVALID_ARG;
    case Status::Code::kNotFound: return INFERD_ERROR_NOT_FOUND;
    case Status::Code::kUnavailable: return INFERD_ERROR_UNAVAILABLE;
    case Status::Code::kUnsupported: return INFERD_ERROR_UNSUPPORTED;
    case Status::Code::kAlreadyExists: return INFERD_ERROR_ALREADY_EXISTS;
    case Status::Code::kInternal: return INFERD_ERROR_INTERNAL;
    default: return INFERD_ERROR_UNKNOWN;
  }
}

Status::Code StatusCodeFromError(InferdErrorCode code) {
  switch (code) {
    case INFERD_ERROR_INVALID_ARG: return Status::Code::kInvalidArg;
    case INFERD_ERROR_NOT_FOUND: return Status::Code::kNotFound;
    case INFERD_ERROR_UNAVAILABLE: return Status::Code::kUnavailable;
    case INFERD_ERROR_UNSUPPORTED: return Status::Code::kUnsupported;
    case INFERD_ERROR_ALREADY_EXISTS: return Status::Code::kAlreadyExists;
    default: return Status::Code::kInternal;
  }
}

InferdError* ErrorNew(InferdErrorCode code, const char* message) {
  return new InferdError{code, message ? message : ""};
}
void ErrorDelete(InferdError* e) { delete e; }
const char* ErrorMessage(const InferdError* e) { return e->message.c_str(); }

void Log(InferdLogLevel level, const char* file, int line, const char* message) {
  const char* base = file ? std::strrchr(file, '/') : nullptr;
  base = base ? base + 1 : (file ? file : "?");
  switch (level) {
    case INFERD_LOG_VERBOSE: LOG_VERBOSE("{}:{}] {}", base, line, message); break;
    case INFERD_LOG_INFO: LOG_INFO("{}:{}] {}", base, line, message); break;
    case INFERD_LOG_WARN: LOG_WARNING("{}:{}] {}", base, line, message); break;
    default: LOG_ERROR("{}:{}] {}", base, line, message); break;
  }
}

const char* ModelName(const InferdModel* m) { return AsModel(m)->name().c_str(); }
uint64_t ModelVersion(const InferdModel* m) { return static_cast<uint64_t>(AsModel(m)->version()); }
const char* ModelRepositoryPath(const InferdModel* m) { return AsModel(m)->model_dir().c_str(); }
const char* ModelConfigJson(const InferdModel* m) { return AsModel(m)->config_json().c_str(); }
InferdError* ModelSetConfigJson(InferdModel* m, const char* json) {
  return BackendErrorFromStatus(AsModel(m)->SetConfigFromBackend(json ? json : ""));
}
int ModelAutoCompleteAllowed(const InferdModel* m) { return AsModel(m)->auto_complete() ? 1 : 0; }
const char* ModelVersionPath(const InferdModel* m) { return AsModel(m)->version_dir().c_str(); }
void ModelSetState(InferdModel* m, void* state) { AsModel(m)->backend_state = state; }
void* ModelState(const InferdModel* m) { return AsModel(m)->backend_state; }

InferdModel* InstanceModel(const InferdInstance* i) { return AsInstance(i)->model(); }
const char* InstanceName(const InferdInstance* i) { return AsInstance(i)->name().c_str(); }
int32_t InstanceDeviceId(const InferdInstance* i) { return AsInstance(i)->device_id(); }
int InstanceIsGpu(const InferdInstance* i) { return AsInstance(i)->gpu() ? 1 : 0; }
void InstanceSetState(InferdInstance* i, void* state) { AsInstance(i)->backend_state = state; }
void* InstanceState(const InferdInstance* i) { return AsInstance(i)->backend_state; }
void InstanceReportComputeTimes(InferdInstance* i, uint64_t input_end_ns, uint64_t infer_end_ns) {
  AsInstance(i)->reported_input_end_ns = input_end_ns;
  AsInstance(i)->reported_infer_end_ns = infer_end_ns;
}
uint64_t Now() { return NowNs(); }

const char* RequestId(const InferdRequest* r) { return AsRequest(r)->id.c_str(); }
uint64_t RequestCorrelationId(const InferdRequest* r) { return AsRequest(r)->correlation_id; }
uint32_t RequestInputCount(const InferdRequest* r) {
  return static_cast<uint32_t>(AsRequest(r)->inputs.size());
}

InferdError* BadIndex(const char* what, uint32_t index) {
  return ErrorNew(INFERD_ERROR_INVALID_ARG,
                  (std::string(what) + " index " + std::to_string(index) + " out of range").c_str());
}

InferdError* RequestInput(const InferdRequest* r, uint32_t index, const char** name,
                          InferdDataType* datatype, const int64_t** shape, uint32_t* dims,
                          uint64_t* byte_size) {
  const auto& inputs = AsRequest(r)->inputs;
  if (index >= inputs.size()) return BadIndex("input", index);
  const InputTensor& in = inputs[index];
  if (name) *name = in.name.c_str();
  if (datatype) *datatype = in.datatype;
  if (shape) *shape = in.shape.data();
  if (dims) *dims = static_cast<uint32_t>(in.shape.size());
  if (byte_size) *byte_size = in.byte_size;
  return nullptr;
}

InferdError* RequestInputBufferCount(const InferdRequest* r, uint32_t index, uint32_t* count) {
  const auto& inputs = AsRequest(r)->inputs;
  if (index >= inputs.size()) return BadIndex("input", index);
  *count = static_cast<uint32_t>(inputs[index].buffers.size());
  return nullptr;
}

InferdError* RequestInputBuffer(const InferdRequest* r, uint32_t index, uint32_t buffer,
                                const void** data, uint64_t* size) {
  const auto& inputs = AsRequest(r)->inputs;
  if (index >= inputs.size()) return BadIndex("input", index);
  if (buffer >= inputs[index].buffers.size()) return BadIndex("input buffer", buffer);
  *data = inputs[index].buffers[buffer].first;
  *size = inputs[index].buffers[buffer].second;
  return nullptr;
}

uint32_t RequestOutputCount(const InferdRequest* r) {
  return static_cast<uint32_t>(AsRequest(r)->output_names.size());
}
const char* RequestOutputName(const InferdRequest* r, uint32_t index) {
  const auto& names = AsRequest(r)->output_names;
  return index < names.size() ? names[index].c_str() : nullptr;
}
const char* RequestParameter(const InferdRequest* r, const char* key) {
  const auto& params = AsRequest(r)->parameters;
  auto it = params.find(key ? key : "");
  return it == params.end() ? nullptr : it->second.c_str();
}

InferdError* ResponseNew(InferdRequest* r, InferdResponse** out) {
  *out = new InferenceResponse(AsRequest(r)->shared_from_this());
  return nullptr;
}
void ResponseDelete(InferdResponse* r) { delete AsResponse(r); }

InferdError* ResponseOutput(InferdResponse* r, const char* name, InferdDataType datatype,
                            const int64_t* shape, uint32_t dims, uint64_t byte_size, void** buffer) {
  if (name == nullptr || DataTypeWireName(datatype) == std::string("INVALID")) {
    return ErrorNew(INFERD_ERROR_INVALID_ARG, "ResponseOutput needs a name and a valid datatype");
  }
  OutputTensor* out = AsResponse(r)->AddOutput(name, datatype,
                                               std::vector<int64_t>(shape, shape + dims), byte_size);
  *buffer = out->data.get();
  return nullptr;
}

InferdError* ResponseSend(InferdResponse* r, uint32_t flags, InferdError* error) {
  std::unique_ptr<InferenceResponse> response(AsResponse(r));
  response->final = (flags & INFERD_RESPONSE_FINAL) != 0;
  const auto& model = response->request->model;
  if (!response->final && model && !model->decoupled()) {
    // The frontends answer a non-decoupled request with its one response.
    return ErrorNew(INFERD_ERROR_INVALID_ARG,
                    ("model '" + model->name() +
                     "' is not decoupled: its one response must be sent with INFERD_RESPONSE_FINAL")
                        .c_str());
  }
  if (error) {
    response->status = StatusFromBackendError(error);
    response->outputs.clear();
  }
  if (ModelInstance::DeferIfExecuting(response)) return nullptr;
  auto request = response->request;
  request->Respond(std::move(response));
  return nullptr;
}

InferdError* RequestRespondError(InferdRequest* r, InferdError* error) {
  Status st = StatusFromBackendError(error);
  auto response = std::make_unique<InferenceResponse>(AsRequest(r)->shared_from_this());
  response->status = st.ok() ? Status::Internal("backend answered with an empty error") : st;
  if (ModelInstance::DeferIfExecuting(response)) return nullptr;
  AsRequest(r)->Respond(std::move(response));
  return nullptr;
}

const InferdCoreApi kApi = {
    INFERD_BACKEND_API_VERSION,
    ErrorNew, ErrorDelete, ErrorMessage, Log,
    ModelName, ModelVersion, ModelRepositoryPath, ModelConfigJson, ModelSetConfigJson,
    ModelAutoCompleteAllowed, ModelVersionPath, ModelSetState, ModelState,
    InstanceModel, InstanceName, InstanceDeviceId, InstanceIsGpu, InstanceSetState, InstanceState,
    InstanceReportComputeTimes, Now,
    RequestId, RequestCorrelationId, RequestInputCount, RequestInput, RequestInputBufferCount,
    RequestInputBuffer, RequestOutputCount, RequestOutputName, RequestParameter,
    ResponseNew, ResponseDelete, ResponseOutput, ResponseSend, RequestRespondError,
};

}  // namespace

const InferdCoreApi* CoreApi() { return &kApi; }

Status StatusFromBackendError(InferdError* error) {
  if (error == nullptr) return Status::Ok();
  Status st(StatusCodeFromError(error->code), error->message);
  delete error;
  return st;
}

InferdError* BackendErrorFromStatus(const Status& status) {
  if (status.ok()) return nullptr;
  return new InferdError{CodeFromStatus(status.code()), status.message()};
}

}  // namespace inferd
