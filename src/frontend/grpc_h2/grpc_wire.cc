#include "frontend/grpc_h2/grpc_wire.h"

namespace inferd::grpc_h2 {

std::optional<MessagePrefix> ReadMessagePrefix(std::string_view bytes) {
  const auto* b = reinterpret_cast<const unsigned char*>(bytes.data());
  if (b[0] > 1) return std::nullopt;
  MessagePrefix prefix;
  prefix.compressed = b[0] == 1;
  prefix.length = (uint32_t{b[1]} << 24) | (uint32_t{b[2]} << 16) | (uint32_t{b[3]} << 8) | uint32_t{b[4]};
  return prefix;
}

void WriteMessagePrefix(bool compressed, uint32_t length, char* out) {
  out[0] = compressed ? 1 : 0;
  out[1] = static_cast<char>((length >> 24) & 0xff);
  out[2] = static_cast<char>((length >> 16) & 0xff);
  out[3] = static_cast<char>((length >> 8) & 0xff);
  out[4] = static_cast<char>(length & 0xff);
}

std::optional<int64_t> ParseGrpcTimeout(std::string_view text) {
  if (text.size() < 2 || text.size() > 9) return std::nullopt;
  int64_t value = 0;  // at most 8 digits: no overflow below
  for (char c : text.substr(0, text.size() - 1)) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + (c - '0');
  }
  int64_t unit_ns;
  switch (text.back()) {
    case 'H': unit_ns = 3600'000'000'000; break;
    case 'M': unit_ns = 60'000'000'000; break;
    case 'S': unit_ns = 1'000'000'000; break;
    case 'm': unit_ns = 1'000'000; break;
    case 'u': unit_ns = 1'000; break;
    case 'n': unit_ns = 1; break;
    default: return std::nullopt;
  }
  // 99999999 hours is more than int64 nanoseconds hold: such a deadline is
  // as good as none, so it is clamped.
  constexpr int64_t kMax = INT64_MAX / 2;
  if (value > kMax / unit_ns) return kMax;
  return value * unit_ns;
}

std::string PercentEncodeGrpcMessage(std::string_view message) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  const bool cut = message.size() > kMaxGrpcMessageBytes;
  if (cut) message = message.substr(0, kMaxGrpcMessageBytes);
  std::string out;
  out.reserve(message.size() + 3);
  for (char ch : message) {
    const auto c = static_cast<unsigned char>(ch);
    if (c >= 0x20 && c <= 0x7e && c != '%') {
      out.push_back(ch);
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xf]);
    }
  }
  if (cut) out += "...";
  return out;
}

}  // namespace inferd::grpc_h2
