// A model repository in object storage (Triton's `s3://` repositories),
// mirrored into a private local folder ($TMPDIR/inferd-s3-XXXXXX/repository,
// 0700, removed with the object) that the rest of the server reads as an
// ordinary repository. Sync() lists the bucket prefix and makes the mirror
// equal to it: new and changed objects (by size and ETag) are downloaded to a
// temporary name and renamed into place (a file a loaded model has open or
// mapped keeps its old content), objects gone are removed. The server calls
// Sync() at start-up, before each poll in poll mode, and before each explicit
// load, always from its one lifecycle thread.
//
// Accepted forms, as Triton's:
//   s3://bucket[/prefix]                   AWS (AWS_DEFAULT_REGION or AWS_REGION,
//                                          default us-east-1; AWS_ENDPOINT_URL_S3 or
//                                          AWS_ENDPOINT_URL names another endpoint)
//   s3://http://host:port/bucket[/prefix]  an S3-compatible server (MinIO, moto, ...)
//   s3://https://host[:port]/bucket[/prefix]
//   s3://host:port/bucket[/prefix]         the same over plain HTTP
// Credentials: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN
// (none: anonymous requests); AWS_CA_BUNDLE adds a CA file for HTTPS.
//
// What the bucket holds is data, not trusted to be well formed: a key whose
// path would leave the mirror (absolute, "..", empty or "." components, NUL),
// more than kMaxObjects objects, a key longer than kMaxKeyBytes or deeper than
// kMaxDepth, or more bytes than the mirror's file system has free (less a
// reserve) fail the sync with an error naming it, and the previous mirror
// stays as it was for anything not yet replaced.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>

#include "common/status.h"
#include "storage/s3_client.h"

namespace inferd::storage {

bool IsRemoteRepository(const std::string& location);

struct S3Location {
  S3Endpoint endpoint;
  std::string prefix;  // "" or "path/to/repo/" (always ending in '/')
};

// Parses an s3:// location (see above) using the environment for the AWS
// defaults. False with `error` naming what is wrong.
bool ParseS3Location(const std::string& url, S3Location* out, std::string* error);

// The mirror-relative path of `key` (below `prefix`): false with `error` for
// a key that must not be mirrored (see above). A key ending in '/' is a
// folder marker (an empty version folder is one): its path keeps the '/', and
// the prefix's own marker gives "".
bool MirrorPathOf(const std::string& key, const std::string& prefix, std::string* path, std::string* error);

class RemoteRepository {
 public:
  static constexpr size_t kMaxObjects = 100000;
  static constexpr size_t kMaxKeyBytes = 1024;
  static constexpr size_t kMaxDepth = 32;
  static constexpr uint64_t kFreeSpaceReserve = 64u << 20;

  // Creates the (empty) mirror folder; Sync() fills it.
  static Status Open(const std::string& url, std::unique_ptr<RemoteRepository>* out);
  ~RemoteRepository();  // removes the mirror

  const std::string& url() const { return url_; }
  const std::string& local_path() const { return local_; }
  Status Sync();

 private:
  RemoteRepository(std::string url, S3Location location, std::string base, AwsCredentials credentials);

  struct Mirrored {
    uint64_t size = 0;
    std::string etag;
  };
  std::string url_;
  S3Location location_;
  std::string base_;       // the private folder (0700) holding the two below
  std::string local_;      // base_/repository: the mirror, what the server reads
  std::string downloads_;  // base_/downloads: files being downloaded, then renamed into the mirror
  S3Client client_;
  std::map<std::string, Mirrored> mirrored_;  // relative path -> what was downloaded
  std::set<std::string> folders_;             // folder markers (relative, ending in '/')
  uint64_t temp_counter_ = 0;
};

}  // namespace inferd::storage
