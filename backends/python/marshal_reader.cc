#include "marshal_reader.h"

#include "marshal_writer.h"

namespace inferd_python {

bool MarshalReader::Fail(const std::string& what) {
  if (error_.empty()) error_ = what + " at byte " + std::to_string(at_);
  return false;
}

bool MarshalReader::Byte(unsigned char* out) {
  if (!error_.empty()) return false;
  if (at_ >= size_) return Fail("the answer ends early");
  *out = static_cast<unsigned char>(data_[at_++]);
  return true;
}

bool MarshalReader::U32(uint32_t* out) {
  if (!error_.empty()) return false;
  if (size_ - at_ < 4) return Fail("the answer ends early");
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= uint32_t{static_cast<unsigned char>(data_[at_ + i])} << (8 * i);
  at_ += 4;
  *out = v;
  return true;
}

bool MarshalReader::Sequence(uint32_t* count) {
  unsigned char type = 0;
  if (!Byte(&type)) return false;
  if (type != '(' && type != '[') return Fail("expected a tuple or a list");
  if (!U32(count)) return false;
  // Every element takes at least one byte: a count past the data is a lie
  // that must not size anything.
  if (*count > size_ - at_) return Fail("a sequence longer than the answer");
  return true;
}

bool MarshalReader::Str(std::string_view* text) {
  unsigned char type = 0;
  uint32_t length = 0;
  if (!Byte(&type)) return false;
  if (type != 'u' && type != 't') return Fail("expected a str");
  if (!U32(&length)) return false;
  if (length > size_ - at_) return Fail("a str longer than the answer");
  *text = std::string_view(data_ + at_, length);
  at_ += length;
  if (!IsUtf8(*text)) return Fail("a str that is not UTF-8");
  return true;
}

bool MarshalReader::Int(int64_t* value) {
  unsigned char type = 0;
  if (!Byte(&type)) return false;
  if (type == 'i') {
    uint32_t raw = 0;
    if (!U32(&raw)) return false;
    *value = static_cast<int32_t>(raw);
    return true;
  }
  if (type != 'l') return Fail("expected an int");
  uint32_t raw_count = 0;
  if (!U32(&raw_count)) return false;
  const auto count = static_cast<int32_t>(raw_count);
  const bool negative = count < 0;
  // 15 bits a digit: five digits hold 64 bits (75 > 64); the fifth may use only 4.
  const uint32_t digits = negative ? 0u - static_cast<uint32_t>(count) : static_cast<uint32_t>(count);
  if (digits == 0 || digits > 5) return Fail("an int outside 64 bits");
  uint64_t magnitude = 0;
  for (uint32_t d = 0; d < digits; ++d) {
    unsigned char lo = 0, hi = 0;
    if (!Byte(&lo) || !Byte(&hi)) return false;
    const uint64_t digit = lo | (uint64_t{hi} << 8);
    if (digit > 0x7FFF || (d == 4 && digit > 0xF) || (d + 1 == digits && digit == 0)) {
      return Fail("an int outside 64 bits or malformed");
    }
    magnitude |= digit << (15 * d);
  }
  if (negative) {
    if (magnitude > uint64_t{1} << 63) return Fail("an int outside 64 bits");
    *value = static_cast<int64_t>(0 - magnitude);
  } else {
    if (magnitude > uint64_t{INT64_MAX}) return Fail("an int outside 64 bits");
    *value = static_cast<int64_t>(magnitude);
  }
  return true;
}

bool MarshalReader::UInt(uint64_t* value) {
  int64_t v = 0;
  if (!Int(&v)) return false;
  if (v < 0) return Fail("a negative int where a size or offset belongs");
  *value = static_cast<uint64_t>(v);
  return true;
}

bool MarshalReader::TakeNone() {
  if (!error_.empty() || at_ >= size_ || data_[at_] != 'N') return false;
  ++at_;
  return true;
}

}  // namespace inferd_python
