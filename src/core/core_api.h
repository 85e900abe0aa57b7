// The server's side of the backend ABI: the InferdCoreApi function table
// handed to every backend, and conversions between Status and InferdError.
#pragma once

#include "common/status.h"
#include "inferd/backend.h"

#include "core/abi_handles.h"

namespace inferd {

// The one table, valid for the life of the process.
const InferdCoreApi* CoreApi();

// Takes ownership of `error` (may be null = OK) and frees it.
Status StatusFromBackendError(InferdError* error);
// A new error the receiver owns; null for OK.
InferdError* BackendErrorFromStatus(const Status& status);

class Server;
// The server that InferdCoreApi.Infer hands in-process requests to: set by
// the Server while it exists (the last one constructed), cleared when it is
// destroyed, after its models (and so their backends' threads) are gone.
void SetInProcessServer(Server* server);
void ClearInProcessServer(Server* server);

}  // namespace inferd
