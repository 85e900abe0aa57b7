// TRITONBACKEND_* functions about requests and their answers: inputs,
// requested outputs, release, responses (direct or from a factory), outputs
// and their buffers. See adapter_types.h for how a request's lifetime on
// Triton's side maps onto inferd's.
#include <rapidjson/document.h>

#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <string>

#include "adapter_types.h"

using inferd_triton::g_api;
using inferd_triton::NewError;
using inferd_triton::NullArgument;
using inferd_triton::RequestLink;

namespace {

TRITONSERVER_Error* Gone() {
  return NewError(TRITONSERVER_ERROR_INVALID_ARG,
                  "the request was already answered (its final response was sent, or the execution that "
                  "received it returned)");
}

TRITONSERVER_Error* OutOfMemory() { return NewError(TRITONSERVER_ERROR_INTERNAL, "out of memory"); }

// A new response to the request `link` holds, if it still does.
TRITONSERVER_Error* NewResponse(const std::shared_ptr<RequestLink>& link, TRITONBACKEND_Response** out) {
  InferdResponse* made = nullptr;
  {
    std::lock_guard<std::mutex> lock(link->mu);
    if (link->request == nullptr) return Gone();
    InferdError* error = g_api->ResponseNew(link->request, &made);
    if (error) return inferd_triton::FromInferdError(error, TRITONSERVER_ERROR_INTERNAL);
  }
  auto* response = new (std::nothrow) TRITONBACKEND_Response{link, made, {}};
  if (response == nullptr) {
    g_api->ResponseDelete(made);
    return OutOfMemory();
  }
  *out = response;
  return nullptr;
}

TRITONSERVER_Error* SetParameter(TRITONBACKEND_Response* response, const char* name, InferdParameterType type,
                                 const void* value) {
  return inferd_triton::FromInferdError(g_api->ResponseSetParameter(response->response, name, type, value),
                                        TRITONSERVER_ERROR_INVALID_ARG);
}

// The client's own parameters (RequestParametersJson keeps their types), once.
TRITONSERVER_Error* ReadParameters(TRITONBACKEND_Request* request) {
  if (request->parameters_read) return nullptr;
  try {
    rapidjson::Document doc;
    doc.Parse(g_api->RequestParametersJson(request->request));
    if (doc.HasParseError() || !doc.IsObject()) {
      return NewError(TRITONSERVER_ERROR_INTERNAL, "the request's parameters could not be read");
    }
    for (auto it = doc.MemberBegin(); it != doc.MemberEnd(); ++it) {
      inferd_triton::RequestParameter p;
      p.key.assign(it->name.GetString(), it->name.GetStringLength());
      const auto& v = it->value;
      if (v.IsString()) {
        p.type = TRITONSERVER_PARAMETER_STRING;
        p.text.assign(v.GetString(), v.GetStringLength());
      } else if (v.IsBool()) {
        p.type = TRITONSERVER_PARAMETER_BOOL;
        p.boolean = v.GetBool();
      } else if (v.IsInt64()) {
        p.type = TRITONSERVER_PARAMETER_INT;
        p.integer = v.GetInt64();
      } else if (v.IsNumber()) {
        p.type = TRITONSERVER_PARAMETER_DOUBLE;
        p.number = v.GetDouble();
      } else {
        continue;  // not a scalar: no Triton parameter type holds it
      }
      request->parameters.push_back(std::move(p));
    }
    request->parameters_read = true;
    return nullptr;
  } catch (...) {
    return OutOfMemory();
  }
}

}  // namespace

inferd_triton::RequestLink::~RequestLink() {
  if (request == nullptr) return;
  InferdError* error = g_api->ErrorNew(INFERD_ERROR_INTERNAL,
                                       "the Triton backend released the request without sending its final response");
  if (InferdError* e = g_api->RequestRespondError(request, error)) g_api->ErrorDelete(e);
}

extern "C" {

// ---- Request ----

TRITONSERVER_Error* TRITONBACKEND_RequestId(TRITONBACKEND_Request* request, const char** id) {
  if (request == nullptr || id == nullptr) return NullArgument("TRITONBACKEND_RequestId");
  *id = g_api->RequestId(request->request);
  return nullptr;
}

TRITONSERVER_Error* TRITONBACKEND_RequestCorrelationId(TRITONBACKEND_Request* request, uint64_t* id) {
  if (request == nullptr || id == nullptr) return NullArgument("TRITONBACKEND_RequestCorrelationId");
  *id = g_api->RequestCorrelationId(request->request);
  return nullptr;
}

// inferd's sequence ids are numbers: a string id is an error, as on Triton
// for a request whose id is a number.
TRITONSERVER_Error* TRITONBACKEND_RequestCorrelationIdString(TRITONBACKEND_Request* request, const char** id) {
  if (request == nullptr || id == nullptr) return NullArgument("TRITONBACKEND_RequestCorrelationIdString");
  return NewError(TRITONSERVER_ERROR_INVALID_ARG, "the request's correlation id is not a string");
}

TRITONSERVER_Error* TRITONBACKEND_InferenceRequestTimeoutMicroseconds(TRITONBACKEND_Request* request,
                                                                    uint64_t* timeout) {
  if (request == nullptr || timeout == nullptr) return NullArgument("TRITONBACKEND_InferenceRequestTimeoutMicroseconds");
  const char* value = g_api->RequestParameter(request->request, "timeout");
  *timeout = value != nullptr ? std::strtoull(value, nullptr, 10) : 0;
  return nullptr;
}

TRITONSERVER_Error* TRITONBACKEND_RequestParameterCount(TRITONBACKEND_Request* request, uint32_t* count) {
  if (request == nullptr || count == nullptr) return NullArgument("TRITONBACKEND_RequestParameterCount");
  if (TRITONSERVER_Error* e = ReadParameters(request)) return e;
  *count = static_cast<uint32_t>(request->parameters.size());
  return nullptr;
}

// As on Triton, `vvalue` points at the value: the characters of a STRING, an
// int64_t, a bool or a double; valid until the request is released.
TRITONSERVER_Error* TRITONBACKEND_RequestParameter(TRITONBACKEND_Request* request, const uint32_t index,
                                                   const char** key, TRITONSERVER_ParameterType* type,
                                                   const void** vvalue) {
  if (request == nullptr || key == nullptr || type == nullptr || vvalue == nullptr) {
    return NullArgument("TRITONBACKEND_RequestParameter");
  }
  if (TRITONSERVER_Error* e = ReadParameters(request)) return e;
  if (index >= request->parameters.size()) {
    return NewError(TRITONSERVER_ERROR_INVALID_ARG, "parameter index " + std::to_string(index) + " out of range");
  }
  const inferd_triton::RequestParameter& p = request->parameters[index];
  *key = p.key.c_str();
  *type = p.type;
  switch (p.type) {
    case TRITONSERVER_PARAMETER_INT: *vvalue = &p.integer; break;
    case TRITONSERVER_PARAMETER_BOOL: *vvalue = &p.boolean; break;
    case TRITONSERVER_PARAMETER_DOUBLE: *vvalue = &p.number; break;
    default: *vvalue = p.text.c_str(); break;
  }
  return nullptr;
}

TRITONSERVER_Error* TRITONBACKEND_RequestFlags(TRITONBACKEND_Request* request, uint32_t* flags) {
  if (request == nullptr || flags == nullptr) return NullArgument("TRITONBACKEND_RequestFlags");
  auto set = [&](const char* key) {
    const char* value = g_api->RequestParameter(request->request, key);
    return value != nullptr && std::strcmp(value, "true") == 0;
  };
  *flags = (set("sequence_start") ? kTritonRequestFlagSequenceStart : 0u) |
           (set("sequence_end") ? kTritonRequestFlagSequenceEnd : 0u);
  return nullptr;
}

TRITONSERVER_Error* TRITONBACKEND_RequestIsCancelled(TRITONBACKEND_Request* request, bool* is_cancelled) {
  if (request == nullptr || is_cancelled == nullptr) return NullArgument("TRITONBACKEND_RequestIsCancelled");
  std::lock_guard<std::mutex> lock(request->link->mu);
  *is_cancelled = request->link->request != nullptr && g_api->RequestIsCancelled(request->link->request) != 0;
  return nullptr;
}

TRITONSERVER_Error* TRITONBACKEND_RequestInputCount(TRITONBACKEND_Request* request, uint32_t* count) {
  if (request == nullptr || count == nullptr) return NullArgument("TRITONBACKEND_RequestInputCount");
  *count = static_cast<uint32_t>(request->inputs.size());
  return nullptr;
}

TRITONSERVER_Error* TRITONBACKEND_RequestInputName(TRITONBACKEND_Request* request, const uint32_t index,
                                                   const char** input_name) {
  if (request == nullptr || input_name == nullptr) return NullArgument("TRITONBACKEND_RequestInputName");
  if (index >= request->inputs.size()) {
    return NewError(TRITONSERVER_ERROR_INVALID_ARG, "input index " + std::to_string(index) + " out of range");
  }
  *input_name = request->inputs[index].name;
  return nullptr;
}

TRITONSERVER_Error* TRITONBACKEND_RequestInput(TRITONBACKEND_Request* request, const char* name,
                                               TRITONBACKEND_Input** input) {
  if (request == nullptr || name == nullptr || input == nullptr) return NullArgument("TRITONBACKEND_RequestInput");
  for (size_t i = 0; i < request->inputs.size(); ++i) {
    if (std::strcmp(request->inputs[i].name, name) == 0) {
      *input = &request->inputs[i];
      return nullptr;
    }
  }
  return NewError(TRITONSERVER_ERROR_INVALID_ARG, std::string("unknown request input name ") + name);
}

TRITONSERVER_Error* TRITONBACKEND_RequestInputByIndex(TRITONBACKEND_Request* request, const uint32_t index,
                                                      TRITONBACKEND_Input** input) {
  if (request == nullptr || input == nullptr) return NullArgument("TRITONBACKEND_RequestInputByIndex");
  if (index >= request->inputs.size()) {
    return NewError(TRITONSERVER_ERROR_INVALID_ARG, "input index " + std::to_string(index) + " out of range");
  }
  *input = &request->inputs[index];
  return nullptr;
}

TRITONSERVER_Error* TRITONBACKEND_RequestOutputCount(TRITONBACKEND_Request* request, uint32_t* count) {
  if (request == nullptr || count == nullptr) return NullArgument("TRITONBACKEND_RequestOutputCount");
  *count = g_api->RequestOutputCount(request->request);
  return nullptr;
}

TRITONSERVER_Error* TRITONBACKEND_RequestOutputName(TRITONBACKEND_Request* request, const uint32_t index,
                                                    const char** output_name) {
  if (request == nullptr || output_name == nullptr) return NullArgument("TRITONBACKEND_RequestOutputName");
  if (index >= g_api->RequestOutputCount(request->request)) {
    return NewError(TRITONSERVER_ERROR_INVALID_ARG, "output index " + std::to_string(index) + " out of range");
  }
  *output_name = g_api->RequestOutputName(request->request, index);
  return nullptr;
}

// No output is preallocated by the server: the backend gets its buffers
// from TRITONBACKEND_OutputBuffer, in CPU memory.
TRITONSERVER_Error* TRITONBACKEND_RequestOutputBufferProperties(TRITONBACKEND_Request* request, const char*,
                                                                size_t* byte_size,
                                                                TRITONSERVER_MemoryType* memory_type,
                                                                int64_t* memory_type_id) {
  if (request == nullptr) return NullArgument("TRITONBACKEND_RequestOutputBufferProperties");
  if (byte_size) *byte_size = 0;
  if (memory_type) *memory_type = TRITONSERVER_MEMORY_CPU;
  if (memory_type_id) *memory_type_id = 0;
  return nullptr;
}

TRITONSERVER_Error* TRITONBACKEND_RequestRelease(TRITONBACKEND_Request* request, uint32_t release_flags) {
  if (request == nullptr) return NullArgument("TRITONBACKEND_RequestRelease");
  if (release_flags & kTritonRequestReleaseReschedule) {
    return NewError(TRITONSERVER_ERROR_UNSUPPORTED,
                    "TRITONSERVER_REQUEST_RELEASE_RESCHEDULE (iterative sequences) is not supported by inferd");
  }
  if (request->released.exchange(true)) {
    return NewError(TRITONSERVER_ERROR_INVALID_ARG, "the request was already released");
  }
  request->Unreference();
  return nullptr;
}

TRITONSERVER_Error* TRITONBACKEND_RequestTrace(TRITONBACKEND_Request* request, TRITONSERVER_InferenceTrace** trace) {
  if (request == nullptr || trace == nullptr) return NullArgument("TRITONBACKEND_RequestTrace");
  *trace = nullptr;  // inferd traces requests itself; backends get none to add to
  return nullptr;
}

// ---- Inputs ----

TRITONSERVER_Error* TRITONBACKEND_InputProperties(TRITONBACKEND_Input* input, const char** name,
                                                  TRITONSERVER_DataType* datatype, const int64_t** shape,
                                                  uint32_t* dims_count, uint64_t* byte_size, uint32_t* buffer_count) {
  if (input == nullptr) return NullArgument("TRITONBACKEND_InputProperties");
  if (name) *name = input->name;
  if (datatype) *datatype = input->datatype;
  if (shape) *shape = input->shape;
  if (dims_count) *dims_count = input->dims_count;
  if (byte_size) *byte_size = input->byte_size;
  if (buffer_count) *buffer_count = input->buffer_count;
  return nullptr;
}

// Host policies only choose where Triton stages data; on inferd there is one
// copy of each input, in CPU memory, whatever the policy.
TRITONSERVER_Error* TRITONBACKEND_InputPropertiesForHostPolicy(TRITONBACKEND_Input* input, const char*,
                                                               const char** name, TRITONSERVER_DataType* datatype,
                                                               const int64_t** shape, uint32_t* dims_count,
                                                               uint64_t* byte_size, uint32_t* buffer_count) {
  return TRITONBACKEND_InputProperties(input, name, datatype, shape, dims_count, byte_size, buffer_count);
}

TRITONSERVER_Error* TRITONBACKEND_InputBuffer(TRITONBACKEND_Input* input, const uint32_t index, const void** buffer,
                                              uint64_t* buffer_byte_size, TRITONSERVER_MemoryType* memory_type,
                                              int64_t* memory_type_id) {
  if (input == nullptr || buffer == nullptr || buffer_byte_size == nullptr) {
    return NullArgument("TRITONBACKEND_InputBuffer");
  }
  if (index >= input->buffer_count) {
    return NewError(TRITONSERVER_ERROR_INVALID_ARG, "buffer index " + std::to_string(index) + " out of range for input '" +
                                                        input->name + "'");
  }
  InferdError* error = g_api->RequestInputBuffer(input->request, input->index, index, buffer, buffer_byte_size);
  if (error) return inferd_triton::FromInferdError(error, TRITONSERVER_ERROR_INVALID_ARG);
  if (memory_type) *memory_type = TRITONSERVER_MEMORY_CPU;
  if (memory_type_id) *memory_type_id = 0;
  return nullptr;
}

TRITONSERVER_Error* TRITONBACKEND_InputBufferForHostPolicy(TRITONBACKEND_Input* input, const char*,
                                                           const uint32_t index, const void** buffer,
                                                           uint64_t* buffer_byte_size,
                                                           TRITONSERVER_MemoryType* memory_type,
                                                           int64_t* memory_type_id) {
  return TRITONBACKEND_InputBuffer(input, index, buffer, buffer_byte_size, memory_type, memory_type_id);
}

// The attributes object belongs to the input (Triton's rule too): one per
// input, kept with it.
TRITONSERVER_Error* TRITONBACKEND_InputBufferAttributes(TRITONBACKEND_Input* input, const uint32_t index,
                                                        const void** buffer,
                                                        TRITONSERVER_BufferAttributes** buffer_attributes) {
  if (input == nullptr || buffer == nullptr || buffer_attributes == nullptr) {
    return NullArgument("TRITONBACKEND_InputBufferAttributes");
  }
  uint64_t size = 0;
  TRITONSERVER_Error* error = TRITONBACKEND_InputBuffer(input, index, buffer, &size, nullptr, nullptr);
  if (error) return error;
  input->attributes.byte_size = size;
  input->attributes.memory_type = TRITONSERVER_MEMORY_CPU;
  input->attributes.memory_type_id = 0;
  *buffer_attributes = &input->attributes;
  return nullptr;
}

// ---- Responses ----

TRITONSERVER_Error* TRITONBACKEND_ResponseFactoryNew(TRITONBACKEND_ResponseFactory** factory,
                                                     TRITONBACKEND_Request* request) {
  if (factory == nullptr || request == nullptr) return NullArgument("TRITONBACKEND_ResponseFactoryNew");
  *factory = new (std::nothrow) TRITONBACKEND_ResponseFactory{request->link};
  return *factory ? nullptr : OutOfMemory();
}

TRITONSERVER_Error* TRITONBACKEND_ResponseFactoryDelete(TRITONBACKEND_ResponseFactory* factory) {
  delete factory;
  return nullptr;
}

// Only FINAL means anything: it ends the request's responses with an empty
// final one (which the frontends drop unless the client asked for it).
// Without it there is nothing to send, as on Triton.
TRITONSERVER_Error* TRITONBACKEND_ResponseFactorySendFlags(TRITONBACKEND_ResponseFactory* factory,
                                                           const uint32_t send_flags) {
  if (factory == nullptr) return NullArgument("TRITONBACKEND_ResponseFactorySendFlags");
  std::lock_guard<std::mutex> lock(factory->link->mu);
  if (factory->link->request == nullptr) return Gone();
  if ((send_flags & kTritonResponseCompleteFinal) == 0) return nullptr;
  InferdResponse* response = nullptr;
  InferdError* error = g_api->ResponseNew(factory->link->request, &response);
  if (error == nullptr) error = g_api->ResponseSend(response, INFERD_RESPONSE_FINAL, nullptr);
  factory->link->request = nullptr;
  return inferd_triton::FromInferdError(error, TRITONSERVER_ERROR_INTERNAL);
}

TRITONSERVER_Error* TRITONBACKEND_ResponseFactoryIsCancelled(TRITONBACKEND_ResponseFactory* factory,
                                                             bool* is_cancelled) {
  if (factory == nullptr || is_cancelled == nullptr) return NullArgument("TRITONBACKEND_ResponseFactoryIsCancelled");
  std::lock_guard<std::mutex> lock(factory->link->mu);
  *is_cancelled = factory->link->request != nullptr && g_api->RequestIsCancelled(factory->link->request) != 0;
  return nullptr;
}

TRITONSERVER_Error* TRITONBACKEND_ResponseNew(TRITONBACKEND_Response** response, TRITONBACKEND_Request* request) {
  if (response == nullptr || request == nullptr) return NullArgument("TRITONBACKEND_ResponseNew");
  return NewResponse(request->link, response);
}

TRITONSERVER_Error* TRITONBACKEND_ResponseNewFromFactory(TRITONBACKEND_Response** response,
                                                         TRITONBACKEND_ResponseFactory* factory) {
  if (response == nullptr || factory == nullptr) return NullArgument("TRITONBACKEND_ResponseNewFromFactory");
  return NewResponse(factory->link, response);
}

TRITONSERVER_Error* TRITONBACKEND_ResponseDelete(TRITONBACKEND_Response* response) {
  if (response == nullptr) return nullptr;
  g_api->ResponseDelete(response->response);
  delete response;
  return nullptr;
}

TRITONSERVER_Error* TRITONBACKEND_ResponseSetStringParameter(TRITONBACKEND_Response* response, const char* name,
                                                             const char* value) {
  if (response == nullptr || name == nullptr || value == nullptr) {
    return NullArgument("TRITONBACKEND_ResponseSetStringParameter");
  }
  return SetParameter(response, name, INFERD_PARAMETER_STRING, value);
}

TRITONSERVER_Error* TRITONBACKEND_ResponseSetIntParameter(TRITONBACKEND_Response* response, const char* name,
                                                          const int64_t value) {
  if (response == nullptr || name == nullptr) return NullArgument("TRITONBACKEND_ResponseSetIntParameter");
  return SetParameter(response, name, INFERD_PARAMETER_INT, &value);
}

TRITONSERVER_Error* TRITONBACKEND_ResponseSetBoolParameter(TRITONBACKEND_Response* response, const char* name,
                                                           const bool value) {
  if (response == nullptr || name == nullptr) return NullArgument("TRITONBACKEND_ResponseSetBoolParameter");
  const int flag = value ? 1 : 0;
  return SetParameter(response, name, INFERD_PARAMETER_BOOL, &flag);
}

TRITONSERVER_Error* TRITONBACKEND_ResponseSetDoubleParameter(TRITONBACKEND_Response* response, const char* name,
                                                             const double value) {
  if (response == nullptr || name == nullptr) return NullArgument("TRITONBACKEND_ResponseSetDoubleParameter");
  return SetParameter(response, name, INFERD_PARAMETER_DOUBLE, &value);
}

// An output is declared here and gets its memory from TRITONBACKEND_OutputBuffer
// (inferd's ResponseOutput allocates with the size, which only comes then).
TRITONSERVER_Error* TRITONBACKEND_ResponseOutput(TRITONBACKEND_Response* response, TRITONBACKEND_Output** output,
                                                 const char* name, const TRITONSERVER_DataType datatype,
                                                 const int64_t* shape, const uint32_t dims_count) {
  if (response == nullptr || output == nullptr || name == nullptr || (shape == nullptr && dims_count > 0)) {
    return NullArgument("TRITONBACKEND_ResponseOutput");
  }
  for (size_t i = 0; i < response->outputs.size(); ++i) {
    if (response->outputs[i].name == name) {
      return NewError(TRITONSERVER_ERROR_ALREADY_EXISTS,
                      std::string("the response already has an output named '") + name + "'");
    }
  }
  try {
    // Filled before it is added, so a failure leaves no half-made output.
    std::string output_name(name);
    inferd_triton::Shape output_shape;
    output_shape.Assign(shape, dims_count);
    TRITONBACKEND_Output& made = response->outputs.Add();
    made.response = response;
    made.name = std::move(output_name);
    made.datatype = datatype;
    made.shape = std::move(output_shape);
    *output = &made;
    return nullptr;
  } catch (...) {
    return OutOfMemory();
  }
}

TRITONSERVER_Error* TRITONBACKEND_OutputBuffer(TRITONBACKEND_Output* output, void** buffer,
                                               const uint64_t buffer_byte_size, TRITONSERVER_MemoryType* memory_type,
                                               int64_t* memory_type_id) {
  if (output == nullptr || buffer == nullptr) return NullArgument("TRITONBACKEND_OutputBuffer");
  if (output->has_buffer) {
    return NewError(TRITONSERVER_ERROR_ALREADY_EXISTS, "output '" + output->name + "' already has a buffer");
  }
  InferdError* error = g_api->ResponseOutput(output->response->response, output->name.c_str(),
                                             static_cast<InferdDataType>(output->datatype), output->shape.data(),
                                             output->shape.dims(), buffer_byte_size, buffer);
  if (error) return inferd_triton::FromInferdError(error, TRITONSERVER_ERROR_INVALID_ARG);
  output->has_buffer = true;
  output->attributes.byte_size = buffer_byte_size;
  // Whatever memory the backend preferred, the buffer is in CPU memory: it
  // must read these back, as on a Triton without the memory it asked for.
  if (memory_type) *memory_type = TRITONSERVER_MEMORY_CPU;
  if (memory_type_id) *memory_type_id = 0;
  return nullptr;
}

TRITONSERVER_Error* TRITONBACKEND_OutputBufferAttributes(TRITONBACKEND_Output* output,
                                                        TRITONSERVER_BufferAttributes** buffer_attributes) {
  if (output == nullptr || buffer_attributes == nullptr) return NullArgument("TRITONBACKEND_OutputBufferAttributes");
  if (!output->has_buffer) {
    return NewError(TRITONSERVER_ERROR_INVALID_ARG, "output '" + output->name + "' has no buffer yet");
  }
  *buffer_attributes = &output->attributes;
  return nullptr;
}

TRITONSERVER_Error* TRITONBACKEND_ResponseSend(TRITONBACKEND_Response* response, const uint32_t send_flags,
                                               TRITONSERVER_Error* error) {
  if (response == nullptr) return NullArgument("TRITONBACKEND_ResponseSend");
  std::unique_ptr<TRITONBACKEND_Response> owned(response);  // consumed, whatever happens
  // An output declared without a buffer holds no data; one of no elements is
  // still part of the answer.
  for (size_t i = 0; i < owned->outputs.size(); ++i) {
    const TRITONBACKEND_Output& o = owned->outputs[i];
    if (o.has_buffer || error != nullptr || !o.shape.Empty()) continue;
    void* unused = nullptr;
    InferdError* e = g_api->ResponseOutput(owned->response, o.name.c_str(), static_cast<InferdDataType>(o.datatype),
                                           o.shape.data(), o.shape.dims(), 0, &unused);
    if (e) g_api->ErrorDelete(e);
  }
  const auto& link = owned->link;
  std::lock_guard<std::mutex> lock(link->mu);
  if (link->request == nullptr) {
    g_api->ResponseDelete(owned->response);
    return Gone();
  }
  // The error stays the backend's (Triton's rule): inferd gets a copy.
  InferdError* inferd_error = inferd_triton::CopyToInferdError(error);
  const bool final = (send_flags & kTritonResponseCompleteFinal) != 0;
  InferdError* sent = g_api->ResponseSend(owned->response, final ? INFERD_RESPONSE_FINAL : 0u, inferd_error);
  if (final && link->decoupled) link->request = nullptr;
  return inferd_triton::FromInferdError(sent, TRITONSERVER_ERROR_INTERNAL);
}

// ---- Implicit state (sequence_batching state) ----

TRITONSERVER_Error* TRITONBACKEND_StateNew(TRITONBACKEND_State**, TRITONBACKEND_Request*, const char* name,
                                           const TRITONSERVER_DataType, const int64_t*, const uint32_t) {
  return NewError(TRITONSERVER_ERROR_UNSUPPORTED,
                  std::string("implicit state '") + (name ? name : "") +
                      "': sequence_batching state is not supported by inferd yet");
}

TRITONSERVER_Error* TRITONBACKEND_StateBufferAttributes(TRITONBACKEND_State*, TRITONSERVER_BufferAttributes**) {
  return NewError(TRITONSERVER_ERROR_UNSUPPORTED, "sequence_batching state is not supported by inferd yet");
}

TRITONSERVER_Error* TRITONBACKEND_StateUpdate(TRITONBACKEND_State*) {
  return NewError(TRITONSERVER_ERROR_UNSUPPORTED, "sequence_batching state is not supported by inferd yet");
}

TRITONSERVER_Error* TRITONBACKEND_StateBuffer(TRITONBACKEND_State*, void**, const uint64_t, TRITONSERVER_MemoryType*,
                                              int64_t*) {
  return NewError(TRITONSERVER_ERROR_UNSUPPORTED, "sequence_batching state is not supported by inferd yet");
}

}  // extern "C"
