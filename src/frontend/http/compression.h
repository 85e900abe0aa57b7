// gzip and deflate bodies (Content-Encoding / Accept-Encoding), as Triton's
// HTTP endpoint and tritonclient use them: "deflate" is the zlib format.
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"

namespace inferd::http {

enum class Encoding { kIdentity, kGzip, kDeflate };

// The encoding a Content-Encoding value names; an error for one we cannot read.
Status ParseContentEncoding(std::string_view header, Encoding* out);
// The encoding to answer with, from an Accept-Encoding value (gzip preferred).
Encoding ChooseResponseEncoding(std::string_view accept_encoding);
const char* EncodingName(Encoding e);

// `limit`: the largest decompressed size allowed (an error past it).
Status Decompress(Encoding e, const std::string& in, size_t limit, std::string* out);
std::string Compress(Encoding e, const std::string& in);

}  // namespace inferd::http
