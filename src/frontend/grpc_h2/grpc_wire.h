// gRPC over HTTP/2, the parts that are plain text and bytes (the protocol's
// "PROTOCOL-HTTP2" document): message framing, the grpc-timeout header, and
// the grpc-message header's percent-encoding. Pure functions, unit tested.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace inferd::grpc_h2 {

// Every gRPC message on a stream is a 5-byte prefix (a compressed flag, then
// the length as a big-endian uint32) and that many bytes.
constexpr size_t kMessagePrefixBytes = 5;

struct MessagePrefix {
  bool compressed = false;
  uint32_t length = 0;
};

// The prefix at the start of `bytes` (at least kMessagePrefixBytes of them),
// or nullopt when its flag byte is neither 0 nor 1.
std::optional<MessagePrefix> ReadMessagePrefix(std::string_view bytes);

// Writes the prefix of a message of `length` bytes into `out[0..4]`.
void WriteMessagePrefix(bool compressed, uint32_t length, char* out);

// The grpc-timeout header ("TimeoutValue TimeoutUnit": 1 to 8 ASCII digits,
// then one of H M S m u n) in nanoseconds, or nullopt when malformed.
std::optional<int64_t> ParseGrpcTimeout(std::string_view text);

// grpc-message's encoding: bytes outside printable ASCII (0x20..0x7E), and
// '%' itself, are written as %XX. At most kMaxGrpcMessageBytes of the message
// are encoded, then "..." (at most 3x that once encoded): a message quoting a
// client's long input (a 100 KB model name) would otherwise make trailers
// over a client's metadata limit, which grpcio answers by hanging the call.
constexpr size_t kMaxGrpcMessageBytes = 2048;
std::string PercentEncodeGrpcMessage(std::string_view message);

}  // namespace inferd::grpc_h2
