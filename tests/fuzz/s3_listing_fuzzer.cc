// What an S3 server answers when inferd mirrors an s3:// repository: the
// ListObjectsV2 page parser, the error-document reader, and the rule that maps
// each listed key to a path inside the mirror (which must never leave it).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "storage/remote_repository.h"
#include "storage/s3_list.h"

using namespace inferd::storage;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view xml(reinterpret_cast<const char*>(data), size);
  S3ListPage page;
  std::string error;
  (void)S3ErrorText(xml);
  if (!ParseListObjectsV2(xml, &page, &error)) return 0;
  for (const S3Object& object : page.objects) {
    for (const std::string prefix : {"", "repo/"}) {
      std::string path;
      if (!MirrorPathOf(object.key, prefix, &path, &error)) continue;
      // Whatever is accepted stays inside: relative, and no component empty, "." or "..".
      if (!path.empty() && path[0] == '/') __builtin_trap();
      const std::string parts = !path.empty() && path.back() == '/' ? path.substr(0, path.size() - 1) : path;
      for (size_t start = 0; !parts.empty() && start <= parts.size();) {
        const size_t end = std::min(parts.find('/', start), parts.size());
        const std::string_view part(parts.data() + start, end - start);
        if (part.empty() || part == "." || part == "..") __builtin_trap();
        start = end + 1;
      }
    }
  }
  return 0;
}
