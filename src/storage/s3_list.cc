#include "storage/s3_list.h"

#include <charconv>

namespace inferd::storage {
namespace {

// The text between <tag ...> and </tag>, searching from `from` and ending
// before `end` (the open tag may carry attributes, as ListBucketResult's
// xmlns does); false when absent. `at` is set past the closing tag.
bool Element(std::string_view xml, std::string_view tag, size_t from, size_t end, std::string_view* inner,
             size_t* at) {
  const std::string open = "<" + std::string(tag);
  const std::string close = "</" + std::string(tag) + ">";
  size_t b = xml.find(open, from);
  while (b != std::string_view::npos && b + open.size() < end) {
    const char next = xml[b + open.size()];
    if (next == '>' || next == ' ' || next == '\t' || next == '\n' || next == '\r') break;
    b = xml.find(open, b + 1);  // a longer name with the same start
  }
  if (b == std::string_view::npos || b + open.size() >= end) return false;
  const size_t open_end = xml.find('>', b + open.size());
  if (open_end == std::string_view::npos || open_end >= end || xml[open_end - 1] == '/') return false;
  const size_t start = open_end + 1;
  const size_t e = xml.find(close, start);
  if (e == std::string_view::npos || e + close.size() > end) return false;
  *inner = xml.substr(start, e - start);
  if (at) *at = e + close.size();
  return true;
}

// XML character data: the predefined entities and numeric references.
bool XmlText(std::string_view text, std::string* out) {
  out->clear();
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '<') return false;
    if (text[i] != '&') {
      *out += text[i];
      continue;
    }
    const size_t semi = text.find(';', i);
    if (semi == std::string_view::npos || semi - i > 12) return false;
    const std::string_view name = text.substr(i + 1, semi - i - 1);
    if (name == "amp") *out += '&';
    else if (name == "lt") *out += '<';
    else if (name == "gt") *out += '>';
    else if (name == "quot") *out += '"';
    else if (name == "apos") *out += '\'';
    else if (name.size() > 1 && name[0] == '#') {
      unsigned value = 0;
      const bool hex = name[1] == 'x';
      const std::string_view digits = name.substr(hex ? 2 : 1);
      auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value, hex ? 16 : 10);
      if (ec != std::errc() || p != digits.data() + digits.size() || value == 0 || value > 0x10FFFF) return false;
      // UTF-8 of the code point.
      if (value < 0x80) {
        *out += static_cast<char>(value);
      } else if (value < 0x800) {
        *out += static_cast<char>(0xC0 | (value >> 6));
        *out += static_cast<char>(0x80 | (value & 0x3F));
      } else if (value < 0x10000) {
        *out += static_cast<char>(0xE0 | (value >> 12));
        *out += static_cast<char>(0x80 | ((value >> 6) & 0x3F));
        *out += static_cast<char>(0x80 | (value & 0x3F));
      } else {
        *out += static_cast<char>(0xF0 | (value >> 18));
        *out += static_cast<char>(0x80 | ((value >> 12) & 0x3F));
        *out += static_cast<char>(0x80 | ((value >> 6) & 0x3F));
        *out += static_cast<char>(0x80 | (value & 0x3F));
      }
    } else {
      return false;
    }
    i = semi;
  }
  return true;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

bool PercentDecode(std::string_view text, std::string* out) {
  out->clear();
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      *out += text[i];
      continue;
    }
    if (i + 2 >= text.size()) return false;
    const int hi = HexValue(text[i + 1]);
    const int lo = HexValue(text[i + 2]);
    if (hi < 0 || lo < 0) return false;
    *out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return true;
}

std::string S3ErrorText(std::string_view xml) {
  std::string_view error;
  if (!Element(xml, "Error", 0, xml.size(), &error, nullptr)) return "";
  std::string_view code, message;
  std::string code_text, message_text;
  if (Element(error, "Code", 0, error.size(), &code, nullptr)) XmlText(code, &code_text);
  if (Element(error, "Message", 0, error.size(), &message, nullptr)) XmlText(message, &message_text);
  if (code_text.empty() && message_text.empty()) return "S3 error";
  return code_text + (message_text.empty() ? "" : ": " + message_text);
}

bool ParseListObjectsV2(std::string_view xml, S3ListPage* page, std::string* error) {
  *page = S3ListPage{};
  std::string_view body;
  if (!Element(xml, "ListBucketResult", 0, xml.size(), &body, nullptr)) {
    const std::string s3_error = S3ErrorText(xml);
    *error = s3_error.empty() ? "the answer is not a ListBucketResult" : s3_error;
    return false;
  }
  // Top-level fields come before or after the <Contents> elements: look for
  // them outside those.
  std::string outside;
  size_t at = 0;
  std::string_view contents;
  size_t next = 0;
  size_t last = 0;
  while (Element(body, "Contents", at, body.size(), &contents, &next)) {
    const size_t open_tag = body.rfind("<Contents", static_cast<size_t>(contents.data() - body.data()));
    outside.append(body.substr(last, open_tag - last));
    at = last = next;
    S3Object object;
    std::string_view key, size, etag;
    std::string text;
    if (!Element(contents, "Key", 0, contents.size(), &key, nullptr) || !XmlText(key, &text) ||
        !PercentDecode(text, &object.key)) {
      *error = "an object of the listing has no valid Key";
      return false;
    }
    if (!Element(contents, "Size", 0, contents.size(), &size, nullptr) ||
        std::from_chars(size.data(), size.data() + size.size(), object.size).ptr != size.data() + size.size() ||
        size.empty()) {
      *error = "object '" + object.key + "' of the listing has no valid Size";
      return false;
    }
    if (Element(contents, "ETag", 0, contents.size(), &etag, nullptr)) XmlText(etag, &object.etag);
    page->objects.push_back(std::move(object));
  }
  outside.append(body.substr(last));
  std::string_view value;
  if (Element(outside, "IsTruncated", 0, outside.size(), &value, nullptr)) {
    if (value != "true" && value != "false") {
      *error = "IsTruncated is neither true nor false";
      return false;
    }
    page->truncated = value == "true";
  }
  if (page->truncated) {
    std::string token;
    if (!Element(outside, "NextContinuationToken", 0, outside.size(), &value, nullptr) ||
        !XmlText(value, &token) || token.empty()) {
      *error = "a truncated listing has no NextContinuationToken";
      return false;
    }
    page->next_token = std::move(token);
  }
  return true;
}

}  // namespace inferd::storage
