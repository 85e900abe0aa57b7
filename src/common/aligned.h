// Alignment of tensor data. Backends are promised that every input buffer
// starts on a kTensorAlignment boundary (backend.h): SIMD kernels and ONNX
// Runtime read tensors with aligned loads, and a buffer at an odd offset of a
// request body is undefined behaviour for a typed read. Buffers the server
// fills itself (decoded JSON, typed gRPC contents, sequence controls) are
// allocated aligned; a buffer that arrives misaligned (binary data at any
// offset of a body) is copied once, just before the backend sees it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <string>

namespace inferd {

constexpr size_t kTensorAlignment = 64;

inline bool IsTensorAligned(const void* p) {
  return reinterpret_cast<uintptr_t>(p) % kTensorAlignment == 0;
}

// `n` rounded up to the alignment; callers pass sizes of buffers that exist,
// far below SIZE_MAX - kTensorAlignment.
inline size_t AlignUp(size_t n) { return (n + kTensorAlignment - 1) & ~(kTensorAlignment - 1); }

template <typename T>
struct AlignedAllocator {
  using value_type = T;
  AlignedAllocator() = default;
  template <typename U>
  AlignedAllocator(const AlignedAllocator<U>&) {}  // NOLINT: rebinding is implicit by design
  T* allocate(size_t n) {
    return static_cast<T*>(::operator new(n * sizeof(T), std::align_val_t(kTensorAlignment)));
  }
  void deallocate(T* p, size_t) { ::operator delete(p, std::align_val_t(kTensorAlignment)); }
  template <typename U>
  bool operator==(const AlignedAllocator<U>&) const { return true; }
};

// A growable byte buffer whose heap storage is aligned. Reserve at least
// kTensorAlignment bytes first: a short string otherwise lives inside the
// object (small-string optimisation), wherever the object is.
using AlignedBytes = std::basic_string<char, std::char_traits<char>, AlignedAllocator<char>>;

inline AlignedBytes MakeAlignedBytes(size_t reserve = kTensorAlignment) {
  AlignedBytes b;
  b.reserve(reserve < kTensorAlignment ? kTensorAlignment : reserve);
  return b;
}

// Memory a backend writes an output tensor into. Outputs larger than
// kAlignedOutputMin start on a kTensorAlignment boundary, so that a model
// reading them as inputs (the next step of an ensemble) takes them without
// the aligning copy; a smaller one costs little to copy into the request's
// inline arena, and a plain allocation is cheaper than an aligned one.
inline constexpr size_t kAlignedOutputMin = 256;

struct TensorBufferDelete {
  bool aligned = false;
  void operator()(char* p) const noexcept {
    if (aligned) ::operator delete(p, std::align_val_t(kTensorAlignment));
    else delete[] p;
  }
};
using TensorBuffer = std::unique_ptr<char, TensorBufferDelete>;

// At least one byte, so that an empty tensor still has an address.
inline TensorBuffer AllocateTensorBuffer(size_t bytes) {
  if (bytes > kAlignedOutputMin) {
    return TensorBuffer(static_cast<char*>(::operator new(bytes, std::align_val_t(kTensorAlignment))),
                        TensorBufferDelete{true});
  }
  return TensorBuffer(new char[bytes == 0 ? 1 : bytes], TensorBufferDelete{false});
}

}  // namespace inferd
