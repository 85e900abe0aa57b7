#include "storage/remote_repository.h"

#include <stdlib.h>
#include <sys/statvfs.h>

#include <algorithm>
#include <filesystem>
#include <vector>

#include "common/logging.h"

namespace inferd::storage {
namespace {

namespace fs = std::filesystem;

std::string Env(const char* name) {
  const char* value = std::getenv(name);
  return value ? value : "";
}

// "host[:port]" (or "[v6]:port") into host and port; false when malformed.
bool SplitHostPort(const std::string& text, bool tls, std::string* host, std::string* port) {
  std::string h = text;
  std::string p;
  if (!h.empty() && h[0] == '[') {
    const size_t close = h.find(']');
    if (close == std::string::npos) return false;
    p = close + 1 < h.size() && h[close + 1] == ':' ? h.substr(close + 2) : "";
    h = h.substr(1, close - 1);
  } else if (const size_t colon = h.rfind(':'); colon != std::string::npos) {
    p = h.substr(colon + 1);
    h = h.substr(0, colon);
  }
  if (p.empty()) p = tls ? "443" : "80";
  if (h.empty() || p.size() > 5 || !std::all_of(p.begin(), p.end(), ::isdigit) || std::stoi(p) == 0 ||
      std::stoi(p) > 65535) {
    return false;
  }
  *host = h;
  *port = p;
  return true;
}

// "http(s)://host[:port][/...]": an endpoint URL from the environment.
bool ParseEndpointUrl(const std::string& url, S3Endpoint* endpoint) {
  const bool tls = url.rfind("https://", 0) == 0;
  if (!tls && url.rfind("http://", 0) != 0) return false;
  std::string rest = url.substr(tls ? 8 : 7);
  rest = rest.substr(0, rest.find('/'));
  endpoint->tls = tls;
  return SplitHostPort(rest, tls, &endpoint->host, &endpoint->port);
}

bool DnsCompatibleBucket(const std::string& bucket) {
  if (bucket.size() < 3 || bucket.size() > 63) return false;
  return std::all_of(bucket.begin(), bucket.end(),
                     [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'; });
}

}  // namespace

bool IsRemoteRepository(const std::string& location) {
  return location.rfind("s3://", 0) == 0 || location.rfind("gs://", 0) == 0 || location.rfind("as://", 0) == 0;
}

bool ParseS3Location(const std::string& url, S3Location* out, std::string* error) {
  *out = S3Location{};
  if (url.rfind("s3://", 0) != 0) {
    *error = "'" + url + "' is not an s3:// location (only S3 and S3-compatible object storage is supported)";
    return false;
  }
  S3Endpoint& e = out->endpoint;
  e.region = Env("AWS_DEFAULT_REGION");
  if (e.region.empty()) e.region = Env("AWS_REGION");
  if (e.region.empty()) e.region = "us-east-1";
  e.ca_file = Env("AWS_CA_BUNDLE");
  std::string rest = url.substr(5);
  bool explicit_endpoint = false;
  if (rest.rfind("http://", 0) == 0 || rest.rfind("https://", 0) == 0) {
    e.tls = rest[4] == 's';
    rest = rest.substr(e.tls ? 8 : 7);
    const size_t slash = rest.find('/');
    if (slash == std::string::npos || !SplitHostPort(rest.substr(0, slash), e.tls, &e.host, &e.port)) {
      *error = "'" + url + "': expected s3://http(s)://host[:port]/bucket[/path]";
      return false;
    }
    rest = rest.substr(slash + 1);
    explicit_endpoint = true;
  } else {
    const size_t slash = rest.find('/');
    const std::string first = rest.substr(0, slash);
    if (first.find(':') != std::string::npos) {  // s3://host:port/bucket/...
      e.tls = false;
      if (slash == std::string::npos || !SplitHostPort(first, false, &e.host, &e.port)) {
        *error = "'" + url + "': expected s3://host:port/bucket[/path]";
        return false;
      }
      rest = rest.substr(slash + 1);
      explicit_endpoint = true;
    }
  }
  const size_t slash = rest.find('/');
  e.bucket = rest.substr(0, slash);
  std::string prefix = slash == std::string::npos ? "" : rest.substr(slash + 1);
  if (e.bucket.empty() || e.bucket.size() > 255) {
    *error = "'" + url + "' names no bucket";
    return false;
  }
  if (!explicit_endpoint) {
    std::string endpoint_url = Env("AWS_ENDPOINT_URL_S3");
    if (endpoint_url.empty()) endpoint_url = Env("AWS_ENDPOINT_URL");
    if (!endpoint_url.empty()) {
      if (!ParseEndpointUrl(endpoint_url, &e)) {
        *error = "AWS_ENDPOINT_URL '" + endpoint_url + "' is not an http(s)://host[:port] address";
        return false;
      }
    } else {
      e.tls = true;
      e.host = "s3." + e.region + ".amazonaws.com";
      e.port = "443";
      e.virtual_host = DnsCompatibleBucket(e.bucket);
    }
  }
  while (!prefix.empty() && prefix.back() == '/') prefix.pop_back();
  while (!prefix.empty() && prefix.front() == '/') prefix.erase(0, 1);
  out->prefix = prefix.empty() ? "" : prefix + "/";
  return true;
}

bool MirrorPathOf(const std::string& key, const std::string& prefix, std::string* path, std::string* error) {
  if (key.rfind(prefix, 0) != 0) {
    *error = "key '" + key + "' is not under '" + prefix + "'";
    return false;
  }
  const std::string relative = key.substr(prefix.size());
  if (relative.size() > RemoteRepository::kMaxKeyBytes) {
    *error = "key '" + key.substr(0, 64) + "...' is longer than " + std::to_string(RemoteRepository::kMaxKeyBytes) +
             " bytes";
    return false;
  }
  if (relative.empty()) {  // the prefix's own folder marker
    *path = "";
    return true;
  }
  const bool folder = relative.back() == '/';
  const std::string components = folder ? relative.substr(0, relative.size() - 1) : relative;
  size_t depth = 0;
  size_t start = 0;
  while (start <= components.size()) {
    const size_t end = std::min(components.find('/', start), components.size());
    const std::string part = components.substr(start, end - start);
    if (part.empty() || part == "." || part == ".." || part.find('\0') != std::string::npos) {
      *error = "key '" + key + "' has a path component that is empty, '.' or '..'";
      return false;
    }
    if (++depth > RemoteRepository::kMaxDepth) {
      *error = "key '" + key + "' is more than " + std::to_string(RemoteRepository::kMaxDepth) + " folders deep";
      return false;
    }
    start = end + 1;
  }
  *path = relative;
  return true;
}

Status RemoteRepository::Open(const std::string& url, std::unique_ptr<RemoteRepository>* out) {
  S3Location location;
  std::string error;
  if (!ParseS3Location(url, &location, &error)) return Status::InvalidArg("model repository " + error);
  AwsCredentials credentials{Env("AWS_ACCESS_KEY_ID"), Env("AWS_SECRET_ACCESS_KEY"), Env("AWS_SESSION_TOKEN")};
  std::string tmp = Env("TMPDIR");
  if (tmp.empty()) tmp = "/tmp";
  std::string base = tmp + "/inferd-s3-XXXXXX";
  std::error_code ec;
  if (::mkdtemp(base.data()) == nullptr || !fs::create_directory(base + "/repository", ec) ||
      !fs::create_directory(base + "/downloads", ec)) {
    if (base.find("XXXXXX") == std::string::npos) fs::remove_all(base, ec);
    return Status::Internal("cannot create a folder for the mirror of " + url + " in " + tmp);
  }
  out->reset(new RemoteRepository(url, std::move(location), base, std::move(credentials)));
  return Status::Ok();
}

RemoteRepository::RemoteRepository(std::string url, S3Location location, std::string base,
                                   AwsCredentials credentials)
    : url_(std::move(url)),
      location_(std::move(location)),
      base_(std::move(base)),
      local_(base_ + "/repository"),
      downloads_(base_ + "/downloads"),
      client_(location_.endpoint, std::move(credentials)) {}

RemoteRepository::~RemoteRepository() {
  std::error_code ec;
  fs::remove_all(base_, ec);
}

Status RemoteRepository::Sync() {
  std::vector<S3Object> objects;
  INFERD_RETURN_IF_ERROR(client_.List(location_.prefix, kMaxObjects, &objects).Prefixed("model repository " + url_ + ": "));
  std::map<std::string, Mirrored> wanted;
  std::set<std::string> folders;
  uint64_t to_download = 0;
  for (const S3Object& object : objects) {
    std::string path, error;
    if (!MirrorPathOf(object.key, location_.prefix, &path, &error)) {
      return Status::InvalidArg("model repository " + url_ + ": " + error);
    }
    if (path.empty()) continue;
    if (path.back() == '/') {
      folders.insert(path);
      continue;
    }
    wanted[path] = {object.size, object.etag};
    auto had = mirrored_.find(path);
    if (had == mirrored_.end() || had->second.size != object.size || had->second.etag != object.etag) {
      if (object.size > UINT64_MAX - to_download) return Status::ResourceExhausted("model repository " + url_ + " is too large");
      to_download += object.size;
    }
  }
  struct statvfs disk {};
  if (::statvfs(local_.c_str(), &disk) == 0) {
    const uint64_t free_bytes = static_cast<uint64_t>(disk.f_bavail) * disk.f_frsize;
    if (to_download + kFreeSpaceReserve > free_bytes) {
      return Status::ResourceExhausted("model repository " + url_ + ": " + std::to_string(to_download) +
                                       " bytes to download, but only " + std::to_string(free_bytes) +
                                       " are free in " + base_);
    }
  }
  size_t downloaded = 0;
  for (const auto& [path, want] : wanted) {
    auto had = mirrored_.find(path);
    const fs::path target = fs::path(local_) / path;
    std::error_code ec;
    if (had != mirrored_.end() && had->second.size == want.size && had->second.etag == want.etag &&
        fs::is_regular_file(target, ec)) {
      continue;
    }
    fs::create_directories(target.parent_path(), ec);
    if (ec || fs::is_directory(target, ec)) {
      return Status::InvalidArg("model repository " + url_ + ": '" + path + "' is both a file and a folder");
    }
    const std::string temp = downloads_ + "/" + std::to_string(++temp_counter_);
    Status st = client_.Download(location_.prefix + path, want.size, temp);
    if (st.ok() && ::rename(temp.c_str(), target.c_str()) != 0) {
      st = Status::Internal("cannot move " + temp + " to " + target.string());
    }
    if (!st.ok()) {
      fs::remove(temp, ec);
      return st.Prefixed("model repository " + url_ + ": ");
    }
    mirrored_[path] = want;
    ++downloaded;
  }
  for (const std::string& folder : folders) {
    std::error_code ec;
    fs::create_directories(fs::path(local_) / folder, ec);
    if (ec) return Status::InvalidArg("model repository " + url_ + ": cannot create folder '" + folder + "'");
  }
  size_t removed = 0;
  const bool folders_changed = folders != folders_;
  folders_ = std::move(folders);
  for (auto it = mirrored_.begin(); it != mirrored_.end();) {
    if (wanted.count(it->first)) {
      ++it;
      continue;
    }
    std::error_code ec;
    fs::remove(fs::path(local_) / it->first, ec);
    it = mirrored_.erase(it);
    ++removed;
  }
  if (removed > 0 || folders_changed) {  // folders left empty (and not markers), deepest first
    std::vector<fs::path> empty_candidates;
    std::error_code ec;
    for (fs::recursive_directory_iterator it(local_, ec), end; !ec && it != end; it.increment(ec)) {
      if (it->is_directory(ec)) empty_candidates.push_back(it->path());
    }
    std::sort(empty_candidates.begin(), empty_candidates.end(), [](const fs::path& a, const fs::path& b) {
      return a.native().size() > b.native().size();
    });
    for (const auto& folder : empty_candidates) {
      const std::string relative = fs::relative(folder, local_, ec).string() + "/";
      if (!folders_.count(relative) && fs::is_empty(folder, ec)) fs::remove(folder, ec);
    }
  }
  if (downloaded > 0 || removed > 0) {
    LOG_INFO("model repository {}: {} file(s) downloaded, {} removed (mirror {})", url_, downloaded, removed, local_);
  }
  return Status::Ok();
}

}  // namespace inferd::storage
