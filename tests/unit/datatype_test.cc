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
