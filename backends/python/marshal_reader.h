// Reads the stub's answer to an execution: Python's marshal format, version 2
// (what marshal.dumps(value, 2) writes; no back-references), pulled value by
// value in the order the caller expects. The stub runs the model's code, so
// the bytes are untrusted: every read is bounds-checked, any type other than
// the one asked for fails, and nothing is allocated or recursed into on the
// data's say (a Tuple() only returns its count; the caller reads what it
// expects, so nesting is the caller's code, not the data's).
//
// Taken: tuples and lists ('(' '['), str ('u', and 't' for interned ones:
// UTF-8, checked), int ('i', and 'l' within 64 bits), None ('N').
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace inferd_python {

class MarshalReader {
 public:
  MarshalReader(const char* data, size_t size) : data_(data), size_(size) {}

  // Each returns false, leaving the reader failed with error() set, when the
  // next value is not of that kind (or the data ends or is malformed).
  bool Sequence(uint32_t* count);  // a tuple or a list: its element count
  bool Str(std::string_view* text);  // a view into the data
  bool Int(int64_t* value);
  bool UInt(uint64_t* value);  // an Int that is not negative
  // True, consuming it, when the next value is None; false (consuming
  // nothing) otherwise.
  bool TakeNone();
  // Whether every byte was read (a complete answer has nothing after it).
  bool AtEnd() const { return at_ == size_; }
  bool failed() const { return !error_.empty(); }
  const std::string& error() const { return error_; }

 private:
  bool Fail(const std::string& what);
  bool Byte(unsigned char* out);
  bool U32(uint32_t* out);

  const char* data_;
  size_t size_;
  size_t at_ = 0;
  std::string error_;
};

}  // namespace inferd_python
