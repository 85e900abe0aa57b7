// Reading one page of an S3 ListObjectsV2 answer (XML), requested with
// encoding-type=url so that keys arrive percent-encoded. Only what a mirror
// needs is read: each object's Key, Size and ETag, IsTruncated and
// NextContinuationToken. The server's answer is untrusted input: the parser
// is a bounded scan over the text (no recursion, no entity expansion beyond
// the five predefined ones and numeric references), and any malformed part is
// an error naming it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace inferd::storage {

struct S3Object {
  std::string key;  // decoded
  uint64_t size = 0;
  std::string etag;
};

struct S3ListPage {
  std::vector<S3Object> objects;
  bool truncated = false;
  std::string next_token;  // when truncated
};

// False (with `error`) for a malformed page; an S3 <Error> document is
// reported with its Code and Message.
bool ParseListObjectsV2(std::string_view xml, S3ListPage* page, std::string* error);

// The Code and Message of an S3 <Error> document, "" when there is none.
std::string S3ErrorText(std::string_view xml);

// Decodes %XX escapes (and nothing else); false for a malformed escape.
bool PercentDecode(std::string_view text, std::string* out);

}  // namespace inferd::storage
