// The Triton adapter's in-place storage (backends/triton_adapter/adapter_types.h):
// backends keep pointers to inputs and outputs, so an element's address must
// never change as more are added, in place or spilled to the heap.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "../../backends/triton_adapter/adapter_types.h"

namespace {

TEST(TritonAdapterStableList, AddressesStayPutAcrossTheSpillToTheHeap) {
  inferd_triton::StableList<std::string, 2> list;
  std::vector<std::string*> seen;
  for (int i = 0; i < 7; ++i) {
    std::string& added = list.Add();
    added = "element " + std::to_string(i);
    seen.push_back(&added);
  }
  ASSERT_EQ(list.size(), 7u);
  for (size_t i = 0; i < seen.size(); ++i) {
    EXPECT_EQ(&list[i], seen[i]) << i;
    EXPECT_EQ(list[i], "element " + std::to_string(i));
  }
}

TEST(TritonAdapterShape, KeepsShortAndLongShapesAndCopiesSafely) {
  inferd_triton::Shape shape;
  EXPECT_EQ(shape.dims(), 0u);
  EXPECT_FALSE(shape.Empty());  // a scalar has one element
  const int64_t few[] = {2, 3};
  shape.Assign(few, 2);
  ASSERT_EQ(shape.dims(), 2u);
  EXPECT_EQ(shape.data()[0], 2);
  EXPECT_EQ(shape.data()[1], 3);
  EXPECT_FALSE(shape.Empty());

  std::vector<int64_t> many(inferd_triton::Shape::kInPlace + 3);
  for (size_t d = 0; d < many.size(); ++d) many[d] = static_cast<int64_t>(d) + 1;
  shape.Assign(many.data(), static_cast<uint32_t>(many.size()));
  ASSERT_EQ(shape.dims(), many.size());
  EXPECT_EQ(std::vector<int64_t>(shape.data(), shape.data() + shape.dims()), many);

  // A copy reads its own storage, not the original's.
  inferd_triton::Shape copy = shape;
  shape.Assign(few, 2);
  EXPECT_EQ(std::vector<int64_t>(copy.data(), copy.data() + copy.dims()), many);
  inferd_triton::Shape short_copy = shape;
  EXPECT_NE(short_copy.data(), shape.data());
  EXPECT_EQ(short_copy.data()[1], 3);
}

TEST(TritonAdapterShape, NoElementsWhenADimensionIsZeroOrUnknown) {
  inferd_triton::Shape shape;
  const int64_t zero[] = {4, 0, 2};
  shape.Assign(zero, 3);
  EXPECT_TRUE(shape.Empty());
  const int64_t unknown[] = {-1, 5};
  shape.Assign(unknown, 2);
  EXPECT_TRUE(shape.Empty());
}

}  // namespace
