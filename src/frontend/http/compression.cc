#include "frontend/http/compression.h"

#include <zlib.h>

namespace inferd::http {
namespace {

bool Lists(std::string_view header, std::string_view token) {
  size_t pos = 0;
  while ((pos = header.find(token, pos)) != std::string_view::npos) {
    const bool start_ok = pos == 0 || header[pos - 1] == ' ' || header[pos - 1] == ',';
    const size_t end = pos + token.size();
    const bool end_ok = end == header.size() || header[end] == ',' || header[end] == ';' ||
                        header[end] == ' ';
    if (start_ok && end_ok) return true;
    pos = end;
  }
  return false;
}

}  // namespace

Status ParseContentEncoding(std::string_view header, Encoding* out) {
  if (header.empty() || header == "identity") *out = Encoding::kIdentity;
  else if (header == "gzip") *out = Encoding::kGzip;
  else if (header == "deflate") *out = Encoding::kDeflate;
  else return Status::InvalidArg("unsupported Content-Encoding '" + std::string(header) +
                                  "' (gzip, deflate or identity)");
  return Status::Ok();
}

Encoding ChooseResponseEncoding(std::string_view accept) {
  if (Lists(accept, "gzip")) return Encoding::kGzip;
  if (Lists(accept, "deflate")) return Encoding::kDeflate;
  return Encoding::kIdentity;
}

const char* EncodingName(Encoding e) {
  switch (e) {
    case Encoding::kGzip: return "gzip";
    case Encoding::kDeflate: return "deflate";
    default: return "identity";
  }
}

Status Decompress(Encoding e, const std::string& in, size_t limit, std::string* out) {
  z_stream zs{};
  // 15 + 32: detect the zlib or gzip header by itself.
  if (inflateInit2(&zs, 15 + 32) != Z_OK) return Status::Internal("inflateInit2 failed");
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  out->clear();
  char chunk[65536];
  int ret = Z_OK;
  while (ret != Z_STREAM_END) {
    zs.next_out = reinterpret_cast<Bytef*>(chunk);
    zs.avail_out = sizeof chunk;
    ret = inflate(&zs, Z_NO_FLUSH);
    if (ret != Z_OK && ret != Z_STREAM_END) {
      inflateEnd(&zs);
      return Status::InvalidArg(std::string("request body is not valid ") + EncodingName(e) +
                                " data");
    }
    out->append(chunk, sizeof chunk - zs.avail_out);
    if (out->size() > limit) {
      inflateEnd(&zs);
      return Status::InvalidArg("decompressed request body exceeds the maximum allowed input size of " +
                                std::to_string(limit) + " bytes. Use --http-max-input-size to increase the limit.");
    }
    if (ret == Z_OK && zs.avail_in == 0 && zs.avail_out != 0) {
      inflateEnd(&zs);
      return Status::InvalidArg(std::string("request body is truncated ") + EncodingName(e) +
                                " data");
    }
  }
  inflateEnd(&zs);
  return Status::Ok();
}

std::string Compress(Encoding e, const std::string& in) {
  if (e == Encoding::kIdentity) return in;
  z_stream zs{};
  deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, e == Encoding::kGzip ? 15 + 16 : 15, 8,
               Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&zs, static_cast<uLong>(in.size())), '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  deflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

}  // namespace inferd::http
