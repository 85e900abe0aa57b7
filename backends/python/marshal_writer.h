// Python's marshal format (version 2: no back-references), written for the
// stub: the execute message, which the stub reads with one marshal.loads, a
// C call that builds tuples of str and int several times faster than
// json.loads builds the same data as dicts (bench/python_backend.py says what
// that saves per request). Only the server writes this format; the stub's
// answers stay JSON, so nothing here parses what a model's process sends.
//
// Values are appended in order: a Tuple(n) or List(n) is followed by its n
// values. Strings must be UTF-8 (marshal's 'u'); others are sent with each
// invalid byte replaced by U+FFFD, as the stub could not decode them.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace inferd_python {

class MarshalWriter {
 public:
  explicit MarshalWriter(std::string* out) : out_(out) {}

  void Tuple(uint32_t count) { Sized('(', count); }
  void List(uint32_t count) { Sized('[', count); }
  void None() { out_->push_back('N'); }
  void Bool(bool value) { out_->push_back(value ? 'T' : 'F'); }
  void Int(int64_t value);
  void UInt(uint64_t value);
  void Str(std::string_view utf8);

 private:
  void Sized(char type, uint32_t count);
  void U32(uint32_t value);
  // 'l': the magnitude in 15-bit digits, least significant first, after the
  // signed digit count.
  void Long(uint64_t magnitude, bool negative);

  std::string* out_;
};

// Whether `text` is well-formed UTF-8 (no overlongs, surrogates or values
// past U+10FFFF), as Python's decoder requires.
bool IsUtf8(std::string_view text);

}  // namespace inferd_python
