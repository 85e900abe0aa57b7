// Reading files a model configuration names (initial states, warmup samples,
// labels, the config itself). A config may come through the load API, so
// these never read what is not a regular file (a config cannot make the
// server read /dev/zero or a fifo) and never more than the caller needs.
#pragma once

#include <cstdint>
#include <string>

#include "common/status.h"

namespace inferd {

// Reads exactly `size` bytes from the start of the regular file at `path`
// into *out. Fails when it is not a regular file or is shorter; the rest of a
// longer file is not read (Triton's rule for initial state and warmup data).
Status ReadFilePrefix(const std::string& path, uint64_t size, std::string* out);

// Reads the whole regular file at `path`; fails when it holds more than
// `max_bytes`.
Status ReadWholeFile(const std::string& path, uint64_t max_bytes, std::string* out);

}  // namespace inferd
