#include "common/datatype.h"

#include <gtest/gtest.h>

#include "common/half.h"

namespace inferd {
namespace {

TEST(DataType, WireNamesRoundTrip) {
  for (const char* name : {"BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32",
                           "INT64", "FP16", "FP32", "FP64", "BYTES", "BF16"}) {
    DataType t = DataTypeFromWire(name);
    ASSERT_NE(t, INFERD_TYPE_INVALID) << name;
    EXPECT_STREQ(DataTypeWireName(t), name);
    EXPECT_EQ(DataTypeFromConfig(DataTypeToConfig(t)), t);
  }
  EXPECT_EQ(DataTypeFromWire("FLOAT"), INFERD_TYPE_INVALID);
  EXPECT_EQ(DataTypeToConfig(INFERD_TYPE_BYTES), inference::TYPE_STRING);
}

TEST(DataType, ByteSizesAndElementCounts) {
  EXPECT_EQ(DataTypeByteSize(INFERD_TYPE_FP16), 2u);
  EXPECT_EQ(DataTypeByteSize(INFERD_TYPE_INT64), 8u);
  EXPECT_EQ(DataTypeByteSize(INFERD_TYPE_BYTES), 0u);
  EXPECT_EQ(ElementCount(std::vector<int64_t>{2, 3, 4}), 24);
  EXPECT_EQ(ElementCount(std::vector<int64_t>{}), 1);
  EXPECT_EQ(ElementCount(std::vector<int64_t>{2, 0}), 0);
  EXPECT_EQ(ElementCount(std::vector<int64_t>{2, -1}), -1);
}

TEST(DataType, SizesThatOverflowAreRefusedNotWrapped) {
  const int64_t big = int64_t{1} << 62;
  // [2^32, 2^32, 1] wraps to 0 in plain arithmetic; [1, 2^62] x 4 bytes too.
  EXPECT_EQ(ElementCount(std::vector<int64_t>{int64_t{1} << 32, int64_t{1} << 32, 1}), -1);
  EXPECT_EQ(ElementCount(std::vector<int64_t>{4, big}), -1);
  EXPECT_EQ(ElementCount(std::vector<int64_t>{1, big}), big);
  EXPECT_EQ(FixedByteSize(INFERD_TYPE_FP32, big), -1);
  EXPECT_EQ(FixedByteSize(INFERD_TYPE_FP32, 16), 64);
  EXPECT_EQ(FixedByteSize(INFERD_TYPE_BYTES, 16), -1);
  EXPECT_EQ(FixedByteSize(INFERD_TYPE_FP32, -1), -1);
  // An empty tensor is empty whatever its other dims say, and never negative.
  EXPECT_EQ(ElementCount(std::vector<int64_t>{0, big, big}), 0);
  EXPECT_EQ(ElementCount(std::vector<int64_t>{big, big, 0, -1}), -1);
  uint64_t out = 7;
  EXPECT_FALSE(CheckedMul(uint64_t{1} << 40, uint64_t{1} << 40, &out));
  EXPECT_EQ(out, 7u);
  EXPECT_TRUE(CheckedAdd(1, 2, &out));
  EXPECT_EQ(out, 3u);
  EXPECT_FALSE(CheckedAdd(~uint64_t{0}, 1, &out));
}

TEST(Half, ConvertsExactValuesAndRounds) {
  for (float f : {0.0f, 1.0f, -2.5f, 65504.0f, 0.000061035156f, 5.96046448e-08f}) {
    EXPECT_EQ(HalfToFloat(FloatToHalf(f)), f) << f;
  }
  EXPECT_EQ(FloatToHalf(1.0f), 0x3c00);
  EXPECT_EQ(FloatToHalf(1e6f), 0x7c00);  // overflow -> inf
  EXPECT_EQ(Bf16ToFloat(FloatToBf16(1.5f)), 1.5f);
  EXPECT_EQ(FloatToBf16(1.0f), 0x3f80);
}

}  // namespace
}  // namespace inferd
