// The JSON bodies of the REST endpoints other than infer, parsed into what
// the core takes. Pure functions of the text: the fuzzers call them directly.
#pragma once

#include <string_view>

#include "common/status.h"
#include "core/server.h"

namespace inferd::http {

// POST /v2/repository/index: {"ready": bool}, optional; an empty body is {}.
Status ParseRepositoryIndexBody(std::string_view body, bool* ready_only);

// POST /v2/repository/models/{m}/load|unload:
// {"parameters": {"config": "<JSON>", "file:<version>/<name>": "<base64>",
//                 "unload_dependents": bool}}, all optional.
Status ParseLoadRequestBody(std::string_view body, LoadOverrides* overrides);

}  // namespace inferd::http
