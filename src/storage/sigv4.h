// AWS Signature Version 4 for S3 requests (the "Authorization" header), as
// AWS documents it: a canonical request (method, URI, sorted query, sorted
// lower-case headers, payload hash), a string to sign with the date and
// scope, and an HMAC-SHA256 key derived from the secret, date, region and
// service. Pure functions: the caller supplies the time, so tests can check
// them against AWS's published examples.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace inferd::storage {

struct AwsCredentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;  // empty unless temporary credentials
  bool empty() const { return access_key_id.empty() || secret_access_key.empty(); }
};

struct SignedRequest {
  std::string method;                                    // "GET"
  std::string path;                                      // already URI-encoded, e.g. "/bucket/a%20b"
  std::vector<std::pair<std::string, std::string>> query;  // raw (not encoded) names and values
  std::map<std::string, std::string> headers;            // lower-case names; must include "host"
  std::string payload_sha256;                            // hex; "UNSIGNED-PAYLOAD" allowed
};

// Percent-encodes as SigV4 requires: unreserved characters (A-Z a-z 0-9 - _ . ~)
// stay, everything else becomes %XX (upper-case hex); '/' stays when
// `keep_slash` (object keys in paths).
std::string UriEncode(std::string_view text, bool keep_slash);

std::string Sha256Hex(std::string_view data);

// "20130524T000000Z" for a UNIX time.
std::string AmzDate(long long unix_seconds);

// The query string in canonical order (sorted by encoded name, then value),
// which is also what the request must send.
std::string CanonicalQuery(const std::vector<std::pair<std::string, std::string>>& query);

// The Authorization header value for `request` at `amz_date` (which must also
// be the request's x-amz-date header). Every header of `request` is signed.
std::string AuthorizationHeader(const SignedRequest& request, const AwsCredentials& credentials,
                                const std::string& region, const std::string& amz_date);

}  // namespace inferd::storage
