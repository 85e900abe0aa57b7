// The Python backend: Triton's model.py models (class TritonPythonModel with
// initialize / execute / finalize, the triton_python_backend_utils module)
// run unchanged, each instance in a stub process of its own (stub_process.h),
// forked from a launcher per interpreter that has imported numpy and the stub
// once (stub_launcher.h).
//
// Per instance: the stub starts at instance initialization and imports
// model.py and runs its initialize(args) within the initialize timeout
// (--backend-config=python,initialize-timeout-seconds=N, 600 s by default:
// Triton waits as long as the stub lives, and loading large weights takes
// minutes, but a hang must not hold the load for ever); the stub's other
// calls (auto_complete_config) have the stub timeout (stub-timeout-seconds=N,
// Triton's key, 30 s by default). Each execution
// hands the stub the whole batch (inputs in shared memory) and answers every
// request with the stub's response for it, or with the model's error. A stub
// that dies (a crash in user code, os._exit) fails only the requests of that
// execution; the next execution starts a new stub and initializes the model
// again, and the restart is logged. finalize() runs when the instance goes.
//
// The interpreter: parameters { key: "EXECUTION_ENV_PATH" } naming a Python
// environment folder or a tarball of one (execution_env.h) runs its
// bin/python3; else /usr/bin/python3 (the system's, with its numpy) when
// present, else python3 from PATH.
//
// auto_complete_config runs at model load (see AutoComplete).
//
// Each stub also has a channel of its own (stub_channel.h) for what the
// model starts: responses through a request's response sender (decoupled
// models, from execute or from threads of the model), BLS requests to other
// models, log lines. Every request of an execution is registered there, so
// that exactly one side answers it: the stub's final "send", the execute
// reply, or an error when the stub dies.
//
// Restarts are counted on /metrics (inferd_python_stub_restarts_total).
#include <dlfcn.h>
#include <inferd/backend.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <unistd.h>

#include <charconv>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "../common/guard.h"
#include "execute_answer.h"
#include "execution_env.h"
#include "marshal_writer.h"
#include "stub_channel.h"
#include "stub_process.h"
#include "tensor_json.h"

namespace {

namespace fs = std::filesystem;
using inferd_python::AlignUp;
using inferd_python::ExecutionEnvPython;
using inferd_python::JsonString;
using inferd_python::JsonText;
using inferd_python::StubChannel;
using inferd_python::StubOptions;
using inferd_python::StubProcess;

const InferdCoreApi* api = nullptr;
std::string stub_script;      // <folder of this library>/stub/inferd_python_stub.py
std::string launcher_script;  // <folder of this library>/stub/inferd_python_launcher.py

constexpr int kDefaultStubTimeoutS = 30;
constexpr int kDefaultInitializeTimeoutS = 600;

InferdError* Error(const std::string& message, InferdErrorCode code = INFERD_ERROR_INTERNAL) {
  return api->ErrorNew(code, message.c_str());
}

void Log(InferdLogLevel level, const std::string& message) {
  api->Log(level, __FILE__, __LINE__, message.c_str());
}

// /metrics: how often each model's stubs were restarted after they died.
InferdMetricFamily* restarts_family = nullptr;

struct ModelState {
  StubOptions stub;
  std::string initialize_message;  // {"type":"initialize", "model_file", "args"}
  int timeout_ms = kDefaultStubTimeoutS * 1000;
  int initialize_timeout_ms = kDefaultInitializeTimeoutS * 1000;
  bool decoupled = false;
  InferdMetric* restarts = nullptr;  // this model version's series of restarts_family

  ~ModelState() {
    if (restarts != nullptr) api->ErrorDelete(api->MetricDelete(restarts));
  }
};

struct InstanceState {
  // Declared first, destroyed last: the channel serves the stub's messages
  // until the stub has finalized and exited.
  std::unique_ptr<StubChannel> channel;
  std::unique_ptr<StubProcess> stub;
  std::string initialize_message;
  uint64_t restarts = 0;
  // The message of an execution: Execute's only (the instance's thread),
  // kept so that its memory serves the next one.
  std::string execute_message;

  void Stop() {
    stub.reset();
    channel.reset();
  }
};

std::string Str(const rapidjson::Value& v, const char* key) { return JsonString(v, key); }

// The parameters.<key>.string_value of a config, or "".
std::string ConfigParameter(const rapidjson::Document& config, const char* key) {
  auto params = config.FindMember("parameters");
  if (params == config.MemberEnd() || !params->value.IsObject()) return "";
  auto p = params->value.FindMember(key);
  return p == params->value.MemberEnd() || !p->value.IsObject() ? "" : Str(p->value, "string_value");
}

// Triton's auto_complete_config: when the server allows auto-complete and
// model.py defines it, a stub of its own runs it on the config, and the
// config it returns becomes the model's. A model.py whose text never names
// auto_complete_config is not started for it (no process per load for the
// models that do not complete their config; one that inherits the method
// from an imported class must name it in its own file).
InferdError* AutoComplete(InferdModel* model, const ModelState& state, const fs::path& model_file) {
  if (!api->ModelAutoCompleteAllowed(model)) return nullptr;
  std::string source;
  {
    std::FILE* f = std::fopen(model_file.c_str(), "rbe");
    if (f == nullptr) return nullptr;  // initialize reports it
    char chunk[65536];
    for (size_t n; (n = std::fread(chunk, 1, sizeof chunk, f)) > 0 && source.size() < (64u << 20);) {
      source.append(chunk, n);
    }
    std::fclose(f);
  }
  if (source.find("auto_complete_config") == std::string::npos) return nullptr;
  StubOptions options = state.stub;
  options.description = std::string("model '") + api->ModelName(model) + "' (auto_complete_config)";
  std::unique_ptr<StubProcess> stub;
  std::string error, reply;
  if (!StubProcess::Start(options, &stub, &error)) return Error(error, INFERD_ERROR_INVALID_ARG);
  rapidjson::Document message(rapidjson::kObjectType);
  auto& alloc = message.GetAllocator();
  message.AddMember("type", "auto_complete", alloc);
  message.AddMember("model_file", rapidjson::Value(model_file.c_str(), alloc), alloc);
  message.AddMember("config", rapidjson::Value(api->ModelConfigJson(model), alloc), alloc);
  if (!stub->Call(JsonText(message), &reply, state.timeout_ms, &error)) return Error(error, INFERD_ERROR_INVALID_ARG);
  rapidjson::Document answer;
  answer.Parse(reply.c_str(), reply.size());
  if (answer.HasParseError() || !answer.IsObject()) {
    return Error("python: " + options.description + " answered with something else than JSON");
  }
  if (const std::string failed = Str(answer, "error"); !failed.empty()) {
    return Error("python: " + options.description + " failed: " + failed, INFERD_ERROR_INVALID_ARG);
  }
  const std::string completed = Str(answer, "config");
  return completed.empty() ? nullptr : api->ModelSetConfigJson(model, completed.c_str());
}

InferdError* InitializeModel(InferdModel* model) {
  auto state = std::make_unique<ModelState>();
  rapidjson::Document config;
  config.Parse(api->ModelConfigJson(model));
  if (config.HasParseError() || !config.IsObject()) return Error("python: the model config is not valid JSON");
  const std::string name = api->ModelName(model);
  std::string file = Str(config, "default_model_filename");
  if (file.empty()) file = "model.py";
  const fs::path model_file = fs::path(api->ModelVersionPath(model)) / file;
  std::error_code ec;
  if (!fs::is_regular_file(model_file, ec)) {
    return Error("python: model '" + name + "' has no " + model_file.string(), INFERD_ERROR_NOT_FOUND);
  }
  const std::string env = ConfigParameter(config, "EXECUTION_ENV_PATH");
  if (!env.empty()) {
    std::string why;
    const std::string model_dir = fs::path(api->ModelVersionPath(model)).parent_path().string();
    if (!ExecutionEnvPython(env, model_dir, &state->stub.python, &why)) {
      return Error("python: model '" + name + "': " + why, INFERD_ERROR_INVALID_ARG);
    }
  } else {
    state->stub.python = fs::exists("/usr/bin/python3", ec) ? "/usr/bin/python3" : "python3";
  }
  for (auto [key, out_ms] : {std::pair<const char*, int*>{"stub-timeout-seconds", &state->timeout_ms},
                             std::pair<const char*, int*>{"initialize-timeout-seconds", &state->initialize_timeout_ms}}) {
    const char* timeout = api->ModelBackendConfig(model, key);
    if (timeout == nullptr) continue;
    int seconds = 0;
    const char* end = timeout + std::strlen(timeout);
    auto [ptr, err] = std::from_chars(timeout, end, seconds);
    if (err != std::errc() || ptr != end || seconds < 1 || seconds > 86400) {
      return Error(std::string("--backend-config=python,") + key + ": expected 1 to 86400 seconds, got '" +
                       timeout + "'",
                   INFERD_ERROR_INVALID_ARG);
    }
    *out_ms = seconds * 1000;
  }
  state->stub.script = stub_script;
  state->stub.launcher_script = launcher_script;
  if (InferdError* e = AutoComplete(model, *state, model_file)) return e;
  const char* config_json = api->ModelConfigJson(model);  // as completed
  {
    rapidjson::Document completed;
    completed.Parse(config_json);
    auto policy = completed.IsObject() ? completed.FindMember("model_transaction_policy") : completed.MemberEnd();
    if (policy != completed.MemberEnd() && policy->value.IsObject()) {
      auto d = policy->value.FindMember("decoupled");
      state->decoupled = d != policy->value.MemberEnd() && d->value.IsTrue();
    }
  }
  if (restarts_family != nullptr) {
    const std::string version = std::to_string(api->ModelVersion(model));
    const char* names[] = {"model", "version"};
    const char* values[] = {name.c_str(), version.c_str()};
    if (InferdError* e = api->MetricNew(restarts_family, names, values, 2, &state->restarts)) api->ErrorDelete(e);
  }
  // initialize(args), with Triton's keys; the instance's own are added per instance.
  rapidjson::Document message(rapidjson::kObjectType);
  auto& alloc = message.GetAllocator();
  message.AddMember("type", "initialize", alloc);
  message.AddMember("model_file", rapidjson::Value(model_file.c_str(), alloc), alloc);
  rapidjson::Value args(rapidjson::kObjectType);
  args.AddMember("model_config", rapidjson::Value(config_json, alloc), alloc);
  args.AddMember("model_repository", rapidjson::Value(api->ModelRepositoryPath(model), alloc), alloc);
  args.AddMember("model_version", rapidjson::Value(std::to_string(api->ModelVersion(model)).c_str(), alloc),
                 alloc);
  args.AddMember("model_name", rapidjson::Value(name.c_str(), alloc), alloc);
  message.AddMember("args", args, alloc);
  state->initialize_message = JsonText(message);
  api->ModelSetState(model, state.release());
  return nullptr;
}

// Starts the instance's stub and runs the model's initialize(); the error
// names the model and what the stub said.
bool StartStub(InferdInstance* instance, InstanceState* state, std::string* error) {
  const auto& model = *static_cast<ModelState*>(api->ModelState(api->InstanceModel(instance)));
  StubOptions options = model.stub;
  options.description = std::string("model '") + api->ModelName(api->InstanceModel(instance)) +
                        "' instance '" + api->InstanceName(instance) + "'";
  if (!StubProcess::Start(options, &state->stub, error)) return false;
  if (!state->stub->launch_note().empty()) {
    Log(INFERD_LOG_VERBOSE, options.description + ": the stub was started afresh, not forked (" +
                                state->stub->launch_note() + ")");
  }
  state->channel = std::make_unique<StubChannel>(api, state->stub->TakeChannelSocket(),
                                                 api->ModelName(api->InstanceModel(instance)), options.description);
  std::string reply;
  if (!state->stub->Call(state->initialize_message, &reply, model.initialize_timeout_ms, error)) {
    state->Stop();
    return false;
  }
  rapidjson::Document answer;
  answer.Parse(reply.c_str(), reply.size());
  if (answer.HasParseError() || !answer.IsObject()) {
    *error = "the Python stub of " + options.description + " answered initialize with something else than JSON";
    state->Stop();
    return false;
  }
  if (const std::string failed = Str(answer, "error"); !failed.empty()) {
    *error = "Failed to initialize " + options.description + ": " + failed;
    state->Stop();
    return false;
  }
  return true;
}

InferdError* InitializeInstance(InferdInstance* instance) {
  const auto& model = *static_cast<ModelState*>(api->ModelState(api->InstanceModel(instance)));
  auto state = std::make_unique<InstanceState>();
  rapidjson::Document message;
  message.Parse(model.initialize_message.c_str());
  auto& alloc = message.GetAllocator();
  auto& args = message["args"];
  args.AddMember("model_instance_name", rapidjson::Value(api->InstanceName(instance), alloc), alloc);
  args.AddMember("model_instance_kind", api->InstanceIsGpu(instance) ? "GPU" : "CPU", alloc);
  args.AddMember("model_instance_device_id",
                 rapidjson::Value(std::to_string(api->InstanceDeviceId(instance)).c_str(), alloc), alloc);
  state->initialize_message = JsonText(message);
  std::string error;
  if (!StartStub(instance, state.get(), &error)) return Error(error, INFERD_ERROR_INVALID_ARG);
  api->InstanceSetState(instance, state.release());
  return nullptr;
}

void FailAll(InferdRequest** requests, uint32_t count, const std::string& message) {
  for (uint32_t r = 0; r < count; ++r) api->RequestRespondError(requests[r], Error(message));
}

// Triton's request flags: 1 starts a sequence, 2 ends it.
uint32_t SequenceFlags(InferdRequest* request) {
  auto set = [&](const char* key) {
    const char* value = api->RequestParameter(request, key);
    return value != nullptr && std::strcmp(value, "true") == 0;
  };
  return (set("sequence_start") ? INFERD_INFER_SEQUENCE_START : 0u) |
         (set("sequence_end") ? INFERD_INFER_SEQUENCE_END : 0u);
}

// Copies the batch's inputs into the region and describes them to the stub
// in `message` (marshal, see marshal_writer.h):
//   ("execute", outputs_at, region_size, requests)
// with a tuple per request
//   (handle, request_id, correlation_id, parameters_json, flags, inputs, [requested output names])
// and per input (name, datatype, shape tuple, offset, size); the stub writes
// outputs from outputs_at on and remaps the region when its size changed.
// handles[r] names request r on the stub's channel.
InferdError* WriteRequests(InferdRequest** requests, uint32_t count, const std::vector<uint64_t>& handles,
                           inferd_python::SharedRegion& region, std::string* message) {
  uint64_t total = 0;
  for (uint32_t r = 0; r < count; ++r) {
    for (uint32_t i = 0; i < api->RequestInputCount(requests[r]); ++i) {
      uint64_t size = 0;
      if (InferdError* e = api->RequestInput(requests[r], i, nullptr, nullptr, nullptr, nullptr, &size)) return e;
      total += AlignUp(size);
    }
  }
  std::string error;
  if (!region.Reserve(std::max<uint64_t>(total, 1), &error)) return Error("python: " + error);
  message->clear();
  inferd_python::MarshalWriter out(message);
  out.Tuple(4);
  out.Str("execute");
  out.UInt(total);  // where the outputs go: after every input
  out.UInt(region.size());
  out.Tuple(count);
  uint64_t offset = 0;
  for (uint32_t r = 0; r < count; ++r) {
    InferdRequest* request = requests[r];
    out.Tuple(7);
    out.UInt(handles[r]);
    out.Str(api->RequestId(request));
    out.UInt(api->RequestCorrelationId(request));
    // request.parameters() and request.flags(), as Triton gives them.
    out.Str(api->RequestParametersJson(request));
    out.UInt(SequenceFlags(request));
    const uint32_t input_count = api->RequestInputCount(request);
    out.Tuple(input_count);
    for (uint32_t i = 0; i < input_count; ++i) {
      const char* name;
      InferdDataType type;
      const int64_t* shape;
      uint32_t dims;
      uint64_t size;
      if (InferdError* e = api->RequestInput(request, i, &name, &type, &shape, &dims, &size)) return e;
      uint32_t buffers = 0;
      if (InferdError* e = api->RequestInputBufferCount(request, i, &buffers)) return e;
      char* dst = region.data() + offset;
      for (uint32_t b = 0; b < buffers; ++b) {
        const void* data;
        uint64_t n;
        if (InferdError* e = api->RequestInputBuffer(request, i, b, &data, &n)) return e;
        std::memcpy(dst, data, n);
        dst += n;
      }
      out.Tuple(5);
      out.Str(name);
      out.Str(inferd_python::DataTypeName(type));
      out.Tuple(dims);
      for (uint32_t d = 0; d < dims; ++d) out.Int(shape[d]);
      out.UInt(offset);
      out.UInt(size);
      offset += AlignUp(size);
    }
    const uint32_t output_count = api->RequestOutputCount(request);
    out.List(output_count);
    for (uint32_t o = 0; o < output_count; ++o) out.Str(api->RequestOutputName(request, o));
  }
  return nullptr;
}

// Answers one request from the stub's response for it; every output is
// checked against the region before it is read.
InferdError* Respond(InferdRequest* request, const inferd_python::RequestAnswer& answer,
                     const inferd_python::SharedRegion& region, const std::string& model) {
  if (answer.kind == inferd_python::RequestAnswer::kError) {
    return api->RequestRespondError(request, Error(std::string(answer.message),
                                                   inferd_python::ErrorCodeFromTriton(answer.code)));
  }
  InferdResponse* response = nullptr;
  if (InferdError* e = api->ResponseNew(request, &response)) return api->RequestRespondError(request, e);
  InferdError* failed = nullptr;
  std::string why;
  for (const auto& output : answer.outputs) {
    failed = inferd_python::TensorWithin(output, region.size(), &why)
                 ? inferd_python::AddOutput(api, request, response, output, region.data())
                 : Error("python: model '" + model + "': " + why, INFERD_ERROR_INTERNAL);
    if (failed != nullptr) break;
  }
  if (failed == nullptr && answer.has_parameters) {
    rapidjson::Document parameters;
    parameters.Parse(answer.parameters_json.data(), answer.parameters_json.size());
    failed = parameters.HasParseError()
                 ? Error("python: model '" + model + "': the stub's response parameters are not JSON",
                         INFERD_ERROR_INTERNAL)
                 : inferd_python::AddParameters(api, response, parameters);
  }
  return api->ResponseSend(response, INFERD_RESPONSE_FINAL, failed);
}

// Answers, with `make_error()`, each request of the batch that nobody answered yet.
template <typename MakeError>
void FailUnanswered(StubChannel& channel, const std::vector<uint64_t>& handles, MakeError make_error) {
  for (uint64_t h : handles) {
    if (InferdRequest* r = channel.Take(h)) api->RequestRespondError(r, make_error());
  }
}

InferdError* Execute(InferdInstance* instance, InferdRequest** requests, uint32_t count) {
  auto* state = static_cast<InstanceState*>(api->InstanceState(instance));
  const auto& model_state = *static_cast<ModelState*>(api->ModelState(api->InstanceModel(instance)));
  const std::string model = api->ModelName(api->InstanceModel(instance));
  if (!state->stub || !state->stub->alive() || state->channel->ended()) {
    // The last stub died (here, or on its own since the last execution): a
    // new one, initialized again, takes this batch.
    state->Stop();
    ++state->restarts;
    if (model_state.restarts != nullptr) api->ErrorDelete(api->MetricIncrement(model_state.restarts, 1));
    Log(INFERD_LOG_WARN, "python: restarting the stub of model '" + model + "' instance '" +
                             api->InstanceName(instance) + "' (restart " + std::to_string(state->restarts) + ")");
    std::string error;
    if (!StartStub(instance, state, &error)) {
      FailAll(requests, count, error);
      return nullptr;
    }
  }
  StubChannel& channel = *state->channel;
  std::vector<uint64_t> handles(count);
  for (uint32_t r = 0; r < count; ++r) handles[r] = channel.Register(requests[r]);
  std::string& text = state->execute_message;
  // Its capacity is kept for the next execution, unless this batch made it large.
  struct Trim {
    std::string& message;
    ~Trim() {
      if (message.capacity() > (256u << 10)) std::string().swap(message);
    }
  } trim{text};
  if (InferdError* e = WriteRequests(requests, count, handles, state->stub->region(), &text)) {
    const std::string why = api->ErrorMessage(e);
    api->ErrorDelete(e);
    FailUnanswered(channel, handles, [&] { return Error(why); });
    return nullptr;
  }
  const uint64_t input_end = api->Now();
  if (text.size() > inferd_python::kMaxFrameBytes) {
    // Ids and parameters the clients chose: their requests fail, the stub
    // (which never saw the message) keeps serving.
    FailUnanswered(channel, handles, [&] {
      return Error("python: model '" + model + "': the batch's request ids and parameters take " +
                   std::to_string(text.size()) + " bytes, more than the " +
                   std::to_string(inferd_python::kMaxFrameBytes >> 20) + " MiB a message to the stub may hold");
    });
    return nullptr;
  }
  std::string reply, error;
  if (!state->stub->Call(text, &reply, -1, &error)) {
    Log(INFERD_LOG_ERROR, error);
    FailUnanswered(channel, handles, [&] { return Error(error + "; it is restarted for the next requests"); });
    return nullptr;
  }
  const uint64_t infer_end = api->Now();
  inferd_python::ExecuteAnswer answer;
  std::string why;
  if (!inferd_python::ReadExecuteAnswer(reply.data(), reply.size(), count, &answer, &why)) {
    FailUnanswered(channel, handles, [&] { return Error("python: model '" + model + "': " + why); });
  } else if (answer.failed) {
    FailUnanswered(channel, handles, [&] {
      return Error(std::string(answer.message), inferd_python::ErrorCodeFromTriton(answer.code));
    });
  } else if (answer.region_grew && !state->stub->region().Refresh(&why)) {
    // The stub grew the region for its outputs (Refresh reads the size from
    // the file, never from the message; without it, every output is checked
    // against the size mapped now).
    FailUnanswered(channel, handles, [&] { return Error("python: model '" + model + "': " + why); });
  } else {
    // execute() returned a response per request, or None (the response
    // senders answer, now or later).
    for (uint32_t r = 0; r < count; ++r) {
      const bool has_response =
          answer.listed && answer.requests[r].kind != inferd_python::RequestAnswer::kSender;
      if (!has_response && model_state.decoupled) continue;  // its sender answers it
      InferdRequest* request = channel.Take(handles[r]);
      if (request == nullptr) continue;  // answered through its response sender already
      InferdError* e =
          has_response
              ? Respond(request, answer.requests[r], state->stub->region(), model)
              : api->RequestRespondError(
                    request, Error("python: model '" + model + "': execute() returned None but did not send the "
                                   "final response through the request's response sender (only a decoupled model "
                                   "may answer after execute() returns)"));
      if (e != nullptr) {
        Log(INFERD_LOG_ERROR, api->ErrorMessage(e));
        api->ErrorDelete(e);
      }
    }
  }
  channel.Release(handles);
  api->InstanceReportComputeTimes(instance, input_end, infer_end);
  return nullptr;
}

}  // namespace

extern "C" {

INFERD_EXPORT uint32_t InferdBackendApiVersion(void) { return INFERD_BACKEND_API_VERSION; }

INFERD_EXPORT InferdError* InferdBackendInitialize(const InferdCoreApi* core) {
  api = core;
  return inferd_backend::Guarded(api, "python InferdBackendInitialize", [&]() -> InferdError* {
    Dl_info info{};
    if (dladdr(reinterpret_cast<void*>(&InferdBackendApiVersion), &info) == 0 || info.dli_fname == nullptr) {
      return Error("python: cannot find where the backend library is");
    }
    const fs::path script = fs::path(info.dli_fname).parent_path() / "stub" / "inferd_python_stub.py";
    std::error_code ec;
    if (!fs::is_regular_file(script, ec)) return Error("python: the stub " + script.string() + " is missing");
    stub_script = script.string();
    // Without the launcher, every stub is a fresh interpreter (slower to start, same behaviour).
    const fs::path launcher = script.parent_path() / "inferd_python_launcher.py";
    launcher_script = fs::is_regular_file(launcher, ec) ? launcher.string() : std::string();
    if (InferdError* e = api->MetricFamilyNew(INFERD_METRIC_COUNTER, "inferd_python_stub_restarts_total",
                                              "Times a Python model's stub process was restarted after it died",
                                              &restarts_family)) {
      api->ErrorDelete(e);  // the model still serves; only the count is missing
      restarts_family = nullptr;
    }
    return nullptr;
  });
}

INFERD_EXPORT InferdError* InferdBackendFinalize(void) {
  inferd_python::StubLauncher::StopAll();
  if (restarts_family != nullptr) api->ErrorDelete(api->MetricFamilyDelete(restarts_family));
  restarts_family = nullptr;
  return nullptr;
}

INFERD_EXPORT InferdError* InferdModelInitialize(InferdModel* model) {
  return inferd_backend::Guarded(api, "python InferdModelInitialize", [&] { return InitializeModel(model); });
}

INFERD_EXPORT InferdError* InferdModelFinalize(InferdModel* model) {
  delete static_cast<ModelState*>(api->ModelState(model));
  return nullptr;
}

INFERD_EXPORT InferdError* InferdInstanceInitialize(InferdInstance* instance) {
  return inferd_backend::Guarded(api, "python InferdInstanceInitialize",
                                 [&] { return InitializeInstance(instance); });
}

INFERD_EXPORT InferdError* InferdInstanceFinalize(InferdInstance* instance) {
  return inferd_backend::Guarded(api, "python InferdInstanceFinalize", [&]() -> InferdError* {
    delete static_cast<InstanceState*>(api->InstanceState(instance));  // finalize() runs in the stub
    return nullptr;
  });
}

INFERD_EXPORT InferdError* InferdInstanceExecute(InferdInstance* instance, InferdRequest** requests,
                                                 uint32_t count) {
  return inferd_backend::Guarded(api, "python InferdInstanceExecute",
                                 [&] { return Execute(instance, requests, count); });
}

}  // extern "C"
