#include "marshal_writer.h"

#include <limits>

namespace inferd_python {

namespace {

// The length of the well-formed UTF-8 sequence at text[at], or 0.
size_t Utf8SequenceAt(std::string_view text, size_t at) {
  const auto byte = [&](size_t i) { return static_cast<unsigned char>(text[i]); };
  const unsigned char lead = byte(at);
  if (lead < 0x80) return 1;
  size_t length = 0;
  uint32_t min = 0, code = 0;
  if ((lead & 0xE0) == 0xC0) {
    length = 2, min = 0x80, code = lead & 0x1F;
  } else if ((lead & 0xF0) == 0xE0) {
    length = 3, min = 0x800, code = lead & 0x0F;
  } else if ((lead & 0xF8) == 0xF0) {
    length = 4, min = 0x10000, code = lead & 0x07;
  } else {
    return 0;
  }
  if (text.size() - at < length) return 0;
  for (size_t i = 1; i < length; ++i) {
    if ((byte(at + i) & 0xC0) != 0x80) return 0;
    code = (code << 6) | (byte(at + i) & 0x3F);
  }
  if (code < min || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF)) return 0;
  return length;
}

}  // namespace

bool IsUtf8(std::string_view text) {
  for (size_t at = 0; at < text.size();) {
    const size_t n = Utf8SequenceAt(text, at);
    if (n == 0) return false;
    at += n;
  }
  return true;
}

void MarshalWriter::U32(uint32_t value) {
  for (int shift = 0; shift < 32; shift += 8) out_->push_back(static_cast<char>((value >> shift) & 0xFF));
}

void MarshalWriter::Sized(char type, uint32_t count) {
  out_->push_back(type);
  U32(count);
}

void MarshalWriter::Long(uint64_t magnitude, bool negative) {
  uint32_t digits = 0;
  for (uint64_t m = magnitude; m != 0; m >>= 15) ++digits;
  out_->push_back('l');
  U32(negative ? static_cast<uint32_t>(-static_cast<int64_t>(digits)) : digits);
  for (uint64_t m = magnitude; m != 0; m >>= 15) {
    const auto digit = static_cast<uint16_t>(m & 0x7FFF);
    out_->push_back(static_cast<char>(digit & 0xFF));
    out_->push_back(static_cast<char>(digit >> 8));
  }
}

void MarshalWriter::Int(int64_t value) {
  if (value >= std::numeric_limits<int32_t>::min() && value <= std::numeric_limits<int32_t>::max()) {
    out_->push_back('i');
    U32(static_cast<uint32_t>(static_cast<int32_t>(value)));
    return;
  }
  // The magnitude of INT64_MIN does not fit int64: negate in unsigned.
  const bool negative = value < 0;
  Long(negative ? ~static_cast<uint64_t>(value) + 1 : static_cast<uint64_t>(value), negative);
}

void MarshalWriter::UInt(uint64_t value) {
  if (value <= static_cast<uint64_t>(std::numeric_limits<int32_t>::max())) {
    Int(static_cast<int64_t>(value));
  } else {
    Long(value, false);
  }
}

void MarshalWriter::Str(std::string_view utf8) {
  if (IsUtf8(utf8)) {
    Sized('u', static_cast<uint32_t>(utf8.size()));
    out_->append(utf8);
    return;
  }
  std::string mended;
  for (size_t at = 0; at < utf8.size();) {
    const size_t n = Utf8SequenceAt(utf8, at);
    if (n == 0) {
      mended += "\xEF\xBF\xBD";  // U+FFFD
      ++at;
    } else {
      mended.append(utf8.substr(at, n));
      at += n;
    }
  }
  Sized('u', static_cast<uint32_t>(mended.size()));
  out_->append(mended);
}

}  // namespace inferd_python
