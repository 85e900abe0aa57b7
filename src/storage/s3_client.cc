#include "storage/s3_client.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <fstream>
#include <functional>
#include <memory>

namespace inferd::storage {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

constexpr uint64_t kMaxListPageBytes = 16u << 20;
constexpr int kMaxListPages = 10000;
// A server that trickles (a byte now and then, never idle for a whole
// timeout) must not hold a request forever: each request also has a total
// deadline, 8 timeouts for a listing page, and for a download 4 timeouts plus
// the time its object takes at kMinBytesPerSecond.
constexpr uint64_t kMinBytesPerSecond = 64u << 10;

// Runs one request on `stream` (plain TCP or TLS over it): connect, [TLS
// handshake,] write, then read the answer with an idle deadline per read.
// `done(status)` is called exactly once.
template <class Stream, class Parser>
struct Exchange : std::enable_shared_from_this<Exchange<Stream, Parser>> {
  Stream& stream;
  Parser& parser;
  http::request<http::empty_body>& request;
  std::chrono::seconds timeout;
  std::function<void(const std::string&)> done;  // "" when the answer was read whole
  beast::flat_buffer buffer;

  Exchange(Stream& s, Parser& p, http::request<http::empty_body>& r, std::chrono::seconds t,
           std::function<void(const std::string&)> d)
      : stream(s), parser(p), request(r), timeout(t), done(std::move(d)) {}

  void Fail(const char* step, const beast::error_code& ec) { done(std::string(step) + ": " + ec.message()); }

  void Start(const tcp::resolver::results_type& endpoints) {
    beast::get_lowest_layer(stream).expires_after(timeout);
    beast::get_lowest_layer(stream).async_connect(
        endpoints, [self = this->shared_from_this()](const beast::error_code& ec, const tcp::endpoint&) {
          if (ec) return self->Fail("connect", ec);
          self->Handshake();
        });
  }

  void Handshake() {
    if constexpr (std::is_same_v<Stream, beast::ssl_stream<beast::tcp_stream>>) {
      beast::get_lowest_layer(stream).expires_after(timeout);
      stream.async_handshake(asio::ssl::stream_base::client,
                             [self = this->shared_from_this()](const beast::error_code& ec) {
                               if (ec) return self->Fail("TLS handshake", ec);
                               self->Write();
                             });
    } else {
      Write();
    }
  }

  void Write() {
    beast::get_lowest_layer(stream).expires_after(timeout);
    http::async_write(stream, request, [self = this->shared_from_this()](const beast::error_code& ec, size_t) {
      if (ec) return self->Fail("send", ec);
      self->ReadSome();
    });
  }

  void ReadSome() {
    beast::get_lowest_layer(stream).expires_after(timeout);  // idle deadline, renewed per read
    http::async_read_some(stream, buffer, parser,
                          [self = this->shared_from_this()](const beast::error_code& ec, size_t) {
                            if (ec) return self->Fail("read", ec);
                            if (self->parser.is_done()) return self->done("");
                            self->ReadSome();
                          });
  }
};

std::string ReadHead(const std::string& path, size_t max) {
  std::ifstream in(path, std::ios::binary);
  std::string text(max, '\0');
  in.read(text.data(), static_cast<std::streamsize>(max));
  text.resize(static_cast<size_t>(in.gcount()));
  return text;
}

}  // namespace

S3Client::S3Client(S3Endpoint endpoint, AwsCredentials credentials, std::chrono::seconds timeout)
    : endpoint_(std::move(endpoint)), credentials_(std::move(credentials)), timeout_(timeout) {}

std::string S3Client::Describe() const {
  if (endpoint_.virtual_host) return "s3://" + endpoint_.bucket;
  return std::string(endpoint_.tls ? "https://" : "http://") + endpoint_.host + ":" + endpoint_.port + "/" +
         endpoint_.bucket;
}

template <class Body>
Status S3Client::Get(const std::string& key, const std::vector<std::pair<std::string, std::string>>& query,
                     typename Body::value_type* body, uint64_t body_limit, std::chrono::seconds total,
                     unsigned* status, std::string* error_text) const {
  const std::string host =
      endpoint_.virtual_host ? endpoint_.bucket + "." + endpoint_.host : endpoint_.host;
  const bool default_port = endpoint_.port == (endpoint_.tls ? "443" : "80");
  const std::string host_header = default_port ? host : host + ":" + endpoint_.port;
  const std::string path =
      (endpoint_.virtual_host ? "" : "/" + UriEncode(endpoint_.bucket, false)) + "/" + UriEncode(key, true);
  const std::string canonical_query = CanonicalQuery(query);

  http::request<http::empty_body> request{http::verb::get, canonical_query.empty() ? path : path + "?" + canonical_query,
                                          11};
  request.set(http::field::host, host_header);
  request.set(http::field::user_agent, "inferd");
  if (!credentials_.empty()) {
    const std::string amz_date = AmzDate(static_cast<long long>(std::time(nullptr)));
    SignedRequest signing{"GET", path, query, {}, Sha256Hex("")};
    signing.headers["host"] = host_header;
    signing.headers["x-amz-content-sha256"] = signing.payload_sha256;
    signing.headers["x-amz-date"] = amz_date;
    if (!credentials_.session_token.empty()) signing.headers["x-amz-security-token"] = credentials_.session_token;
    for (const auto& [name, value] : signing.headers) {
      if (name != "host") request.set(name, value);
    }
    request.set(http::field::authorization,
                AuthorizationHeader(signing, credentials_, endpoint_.region, amz_date));
  }

  http::response_parser<Body> parser;
  parser.body_limit(body_limit);
  parser.get().body() = std::move(*body);

  asio::io_context ioc;
  std::string failure = "no answer within " + std::to_string(timeout_.count()) + " s";
  bool finished = false;
  auto done = [&](const std::string& error) {
    finished = true;
    failure = error;
  };
  tcp::resolver resolver(ioc);
  std::unique_ptr<asio::ssl::context> tls;
  std::unique_ptr<beast::ssl_stream<beast::tcp_stream>> tls_stream;
  std::unique_ptr<beast::tcp_stream> plain_stream;
  if (endpoint_.tls) {
    tls = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_client);
    tls->set_verify_mode(asio::ssl::verify_peer);
    beast::error_code ec;
    tls->set_default_verify_paths(ec);
    if (!endpoint_.ca_file.empty()) {
      tls->load_verify_file(endpoint_.ca_file, ec);
      if (ec) return Status::InvalidArg("cannot read the CA bundle '" + endpoint_.ca_file + "': " + ec.message());
    }
    tls_stream = std::make_unique<beast::ssl_stream<beast::tcp_stream>>(ioc, *tls);
    if (!SSL_set_tlsext_host_name(tls_stream->native_handle(), host.c_str())) {
      return Status::Internal("cannot set the TLS server name " + host);
    }
    tls_stream->set_verify_callback(asio::ssl::host_name_verification(host));
  } else {
    plain_stream = std::make_unique<beast::tcp_stream>(ioc);
  }
  resolver.async_resolve(host, endpoint_.port, [&](const beast::error_code& ec, const tcp::resolver::results_type& found) {
    if (ec) return done("resolve " + host + ": " + ec.message());
    if (tls_stream) {
      std::make_shared<Exchange<beast::ssl_stream<beast::tcp_stream>, decltype(parser)>>(*tls_stream, parser, request,
                                                                                       timeout_, done)
          ->Start(found);
    } else {
      std::make_shared<Exchange<beast::tcp_stream, decltype(parser)>>(*plain_stream, parser, request, timeout_, done)
          ->Start(found);
    }
  });
  // Each network step has its own deadline (the stream's expiry), the whole
  // request a total one; name resolution is bounded by the system resolver's
  // own timeouts.
  ioc.run_for(total);
  if (!finished) {
    resolver.cancel();
    if (tls_stream) beast::get_lowest_layer(*tls_stream).close();
    if (plain_stream) plain_stream->close();
    ioc.run();  // the cancelled operations end
    return Status::Unavailable(Describe() + ": no whole answer within " + std::to_string(total.count()) + " s");
  }
  if (!failure.empty()) return Status::Unavailable(Describe() + ": " + failure);
  *status = parser.get().result_int();
  *body = std::move(parser.get().body());
  if (*status / 100 != 2) {
    *error_text = "HTTP " + std::to_string(*status);
    if (auto region = parser.get().find("x-amz-bucket-region"); region != parser.get().end()) {
      *error_text += " (the bucket is in region " + std::string(region->value()) +
                     ": set AWS_DEFAULT_REGION)";
    }
  }
  return Status::Ok();
}

Status S3Client::List(const std::string& prefix, size_t max_objects, std::vector<S3Object>* objects) const {
  objects->clear();
  std::string token;
  for (int page_number = 0; page_number < kMaxListPages; ++page_number) {
    std::vector<std::pair<std::string, std::string>> query = {
        {"list-type", "2"}, {"prefix", prefix}, {"encoding-type", "url"}};
    if (!token.empty()) query.emplace_back("continuation-token", token);
    std::string body;
    unsigned status = 0;
    std::string error;
    INFERD_RETURN_IF_ERROR(Get<http::string_body>("", query, &body, kMaxListPageBytes, 8 * timeout_, &status, &error));
    if (status / 100 != 2) {
      const std::string s3 = S3ErrorText(body);
      return Status::Unavailable(Describe() + ": listing '" + prefix + "' failed: " + error +
                                 (s3.empty() ? "" : " " + s3));
    }
    S3ListPage page;
    if (!ParseListObjectsV2(body, &page, &error)) {
      return Status::Unavailable(Describe() + ": listing '" + prefix + "': " + error);
    }
    for (auto& object : page.objects) {
      if (objects->size() >= max_objects) {
        return Status::ResourceExhausted(Describe() + ": more than " + std::to_string(max_objects) +
                                         " objects under '" + prefix + "'");
      }
      objects->push_back(std::move(object));
    }
    if (!page.truncated) return Status::Ok();
    token = page.next_token;
  }
  return Status::ResourceExhausted(Describe() + ": the listing of '" + prefix + "' did not end");
}

Status S3Client::Download(const std::string& key, uint64_t expected_size, const std::string& path) const {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return Status::Internal("cannot create " + path + ": " + std::strerror(errno));
  ::close(fd);
  http::file_body::value_type file;
  beast::error_code ec;
  file.open(path.c_str(), beast::file_mode::write_existing, ec);
  if (ec) return Status::Internal("cannot open " + path + ": " + ec.message());
  unsigned status = 0;
  std::string error;
  // An error document may be larger than a tiny object: allow 64 KiB for it.
  Status st = Get<http::file_body>(key, {}, &file, std::max<uint64_t>(expected_size, 64u << 10),
                                   4 * timeout_ + std::chrono::seconds(expected_size / kMinBytesPerSecond),
                                   &status, &error);
  file.close();
  if (!st.ok()) return st.Prefixed("downloading '" + key + "': ");
  if (status / 100 != 2) {
    const std::string s3 = S3ErrorText(ReadHead(path, 64u << 10));
    return Status::Unavailable(Describe() + ": downloading '" + key + "' failed: " + error +
                               (s3.empty() ? "" : " " + s3));
  }
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0 || static_cast<uint64_t>(info.st_size) != expected_size) {
    return Status::Unavailable(Describe() + ": '" + key + "' changed while it was downloaded (expected " +
                               std::to_string(expected_size) + " bytes)");
  }
  return Status::Ok();
}

}  // namespace inferd::storage
