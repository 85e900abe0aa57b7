// gRPC's wire text and framing, as the HTTP/2 transport reads and writes them.
#include "frontend/grpc_h2/grpc_wire.h"

#include <gtest/gtest.h>

namespace inferd::grpc_h2 {
namespace {

TEST(GrpcWire, AMessagePrefixIsTheFlagThenABigEndianLength) {
  char prefix[kMessagePrefixBytes];
  WriteMessagePrefix(true, 0x01020304, prefix);
  EXPECT_EQ(std::string(prefix, 5), std::string("\x01\x01\x02\x03\x04", 5));
  auto read = ReadMessagePrefix(std::string_view(prefix, 5));
  ASSERT_TRUE(read);
  EXPECT_TRUE(read->compressed);
  EXPECT_EQ(read->length, 0x01020304u);

  WriteMessagePrefix(false, 0xffffffffu, prefix);
  read = ReadMessagePrefix(std::string_view(prefix, 5));
  ASSERT_TRUE(read);
  EXPECT_FALSE(read->compressed);
  EXPECT_EQ(read->length, 0xffffffffu);
}

TEST(GrpcWire, AFlagOtherThanZeroOrOneIsNotAMessage) {
  EXPECT_FALSE(ReadMessagePrefix(std::string_view("\x02\x00\x00\x00\x01", 5)));
  EXPECT_FALSE(ReadMessagePrefix(std::string_view("\xff\x00\x00\x00\x01", 5)));
}

TEST(GrpcWire, TimeoutsInEveryUnit) {
  EXPECT_EQ(ParseGrpcTimeout("1H"), 3600'000'000'000);
  EXPECT_EQ(ParseGrpcTimeout("2M"), 120'000'000'000);
  EXPECT_EQ(ParseGrpcTimeout("3S"), 3'000'000'000);
  EXPECT_EQ(ParseGrpcTimeout("250m"), 250'000'000);
  EXPECT_EQ(ParseGrpcTimeout("7u"), 7'000);
  EXPECT_EQ(ParseGrpcTimeout("99999999n"), 99'999'999);
  EXPECT_EQ(ParseGrpcTimeout("0S"), 0);
}

TEST(GrpcWire, MalformedTimeoutsAreRefused) {
  for (const char* text : {"", "S", "10", "10s", "10 S", "-1S", "123456789S", "1.5S", "1SS"}) {
    EXPECT_FALSE(ParseGrpcTimeout(text)) << text;
  }
}

TEST(GrpcWire, AHugeTimeoutIsClampedNotOverflowed) {
  auto ns = ParseGrpcTimeout("99999999H");
  ASSERT_TRUE(ns);
  EXPECT_GT(*ns, int64_t{1} << 60);
}

TEST(GrpcWire, GrpcMessageIsPercentEncodedOutsidePrintableAscii) {
  EXPECT_EQ(PercentEncodeGrpcMessage("model 'x' is not found"), "model 'x' is not found");
  EXPECT_EQ(PercentEncodeGrpcMessage("100%"), "100%25");
  EXPECT_EQ(PercentEncodeGrpcMessage("a\nb\r"), "a%0Ab%0D");
  EXPECT_EQ(PercentEncodeGrpcMessage("caf\xc3\xa9"), "caf%C3%A9");
  EXPECT_EQ(PercentEncodeGrpcMessage(std::string_view("\0", 1)), "%00");
  // A long message is cut: trailers stay under a client's metadata limit.
  EXPECT_EQ(PercentEncodeGrpcMessage(std::string(kMaxGrpcMessageBytes, 'n')), std::string(kMaxGrpcMessageBytes, 'n'));
  EXPECT_EQ(PercentEncodeGrpcMessage(std::string(100000, 'n')), std::string(kMaxGrpcMessageBytes, 'n') + "...");
  EXPECT_EQ(PercentEncodeGrpcMessage(std::string(100000, '\n')).size(), 3 * kMaxGrpcMessageBytes + 3);
}

}  // namespace
}  // namespace inferd::grpc_h2
