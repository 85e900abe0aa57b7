#include "marshal_writer.h"

#include <limits>

#include "../../src/common/utf8.h"

namespace inferd_python {

namespace {

// The length of the well-formed UTF-8 sequence at text[at], or 0 (well-formed
// sequences are prefix-free: the first length that validates is the one).
size_t Utf8SequenceAt(std::string_view text, size_t at) {
  for (size_t n = 1; n <= 4 && n <= text.size() - at; ++n) {
    if (inferd::IsValidUtf8(text.substr(at, n))) return n;
  }
  return 0;
}

}  // namespace

bool IsUtf8(std::string_view text) { return inferd::IsValidUtf8(text); }

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
