// Base64 (RFC 4648, with padding) for the `file:` parameters of model loads.
#pragma once

#include <string>
#include <string_view>

namespace inferd::http {

// False when `in` is not base64 (bad character, length or padding).
bool Base64Decode(std::string_view in, std::string* out);

}  // namespace inferd::http
