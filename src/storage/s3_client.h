// A minimal S3 client for reading a model repository: ListObjectsV2 (every
// page) and GetObject into a file, over HTTP or HTTPS (OpenSSL, peer and host
// name verified), signed with SigV4 when credentials are given (anonymous
// otherwise, for public buckets). Every network step has a deadline: a
// step (connect, handshake, send, each read) must finish within the timeout,
// and a whole request within a total deadline (8 timeouts for a listing page,
// 4 timeouts plus the object's size at 64 KiB/s for a download), so a server
// that trickles cannot hold it forever. Answers are bounded: a
// listing page to 16 MiB, an object to the size its listing gave.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"
#include "storage/s3_list.h"
#include "storage/sigv4.h"

namespace inferd::storage {

struct S3Endpoint {
  bool tls = true;
  std::string host;         // "s3.us-east-1.amazonaws.com", "127.0.0.1"
  std::string port;         // "443"
  std::string bucket;
  bool virtual_host = false;  // bucket.host (AWS) rather than host/bucket (path style)
  std::string region = "us-east-1";
  std::string ca_file;      // extra CA bundle for TLS (AWS_CA_BUNDLE); else the system's
};

class S3Client {
 public:
  S3Client(S3Endpoint endpoint, AwsCredentials credentials,
           std::chrono::seconds timeout = std::chrono::seconds(30));

  // Every object under `prefix` (all pages); at most `max_objects`.
  Status List(const std::string& prefix, size_t max_objects, std::vector<S3Object>* objects) const;

  // Object `key` into the file `path` (created, 0600), which must end up
  // exactly `expected_size` bytes long.
  Status Download(const std::string& key, uint64_t expected_size, const std::string& path) const;

  // "s3://bucket" or "http://host:port/bucket": for messages.
  std::string Describe() const;

 private:
  template <class Body>
  Status Get(const std::string& key, const std::vector<std::pair<std::string, std::string>>& query,
             typename Body::value_type* body, uint64_t body_limit, std::chrono::seconds total, unsigned* status,
             std::string* error_body) const;

  S3Endpoint endpoint_;
  AwsCredentials credentials_;
  std::chrono::seconds timeout_;
};

}  // namespace inferd::storage
