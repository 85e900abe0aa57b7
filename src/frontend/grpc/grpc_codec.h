// KServe v2 gRPC messages <-> the core's requests and responses, and the
// other messages built from core state (metadata, statistics, index).
#pragma once

#include <grpcpp/server_context.h>
#include <grpcpp/support/status.h>

#include <memory>
#include <string>
#include <vector>

#include "common/logging.h"
#include "common/status.h"
#include "core/inference_request.h"
#include "core/model.h"
#include "core/server.h"
#include "grpc_service.pb.h"

namespace inferd::grpc_frontend {

// The gRPC status for a core status (INVALID_ARGUMENT, NOT_FOUND, ...).
grpc::Status ToGrpcStatus(const Status& status);

// The call's "traceparent" metadata (W3C trace context), or empty.
std::string Traceparent(const grpc::ServerContextBase& ctx);

// "" is the latest version (-1); otherwise a non-negative integer.
Status ParseModelVersion(const std::string& model, const std::string& text, int64_t* version);

// Fills `request` from `message`. Raw inputs are not copied: they point into
// `message`, which must outlive the request's execution (the caller keeps it
// alive); typed contents are converted into a buffer the request owns.
Status ParseModelInferRequest(const inference::ModelInferRequest& message, InferenceRequest* request);

// The parameters of RepositoryModelLoad/Unload: "config" (a JSON string),
// "file:<version>/<name>" (bytes) and "unload_dependents".
Status ParseLoadParameters(
    const google::protobuf::Map<std::string, inference::ModelRepositoryParameter>& params,
    LoadOverrides* overrides);

// A successful response: every output as raw bytes, in order.
// LogSettings: the request's settings applied onto `settings` when every one
// is valid (the same rules as POST /v2/logging; a setting whose value is
// unset is left as it is); the response lists every setting.
Status ApplyLogSettingsRequest(const inference::LogSettingsRequest& request, LogSettings* settings);
void FillLogSettingsResponse(const LogSettings& settings, inference::LogSettingsResponse* out);

void EncodeModelInferResponse(const InferenceResponse& response, inference::ModelInferResponse* out);

// ModelStreamInfer: whether the request asks for every response to be flagged
// final or not ("triton_enable_empty_final_response"), and for an empty final
// response when the model ends without one.
bool WantsFinalFlags(const inference::ModelInferRequest& request);
// The stream message for `response` (an error becomes error_message; the
// stream goes on); false when there is nothing to send: a final response
// without outputs that only marks the end, to a client without final flags.
bool EncodeStreamInferResponse(const InferenceResponse& response, bool flag_final,
                               inference::ModelStreamInferResponse* out);

void FillModelMetadata(const Model& model, const std::vector<int64_t>& versions,
                       inference::ModelMetadataResponse* out);
void FillModelStatistics(const std::vector<std::shared_ptr<Model>>& models,
                         inference::ModelStatisticsResponse* out);

}  // namespace inferd::grpc_frontend
