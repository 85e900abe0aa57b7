// ParseJson: the one way inferd turns JSON text from outside (request
// bodies, load parameters, answers a client reads) into a rapidjson Document.
//
// rapidjson's parser recurses once per nesting level, so about 130 k '['
// in a body overflowed the stack of the thread parsing it. This parse stops
// at the first array or object deeper than `max_depth` (the handler refuses
// it before the parser descends), so the recursion, and whatever later walks
// the document recursively (tensor data, parameters), stays within
// max_depth frames. (rapidjson's iterative mode would also bound the stack,
// but costs about 1 k more instructions per inference request.) Header-only:
// the client library uses it as well as the server.
#pragma once

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <rapidjson/reader.h>

#include <string>
#include <string_view>

namespace inferd {

// Deeper than any tensor (a rank-32 tensor needs 33 levels with its request
// object) and far below what a thread's stack could hold.
constexpr int kMaxJsonDepth = 128;

namespace json_detail {

// Forwards SAX events to the document and fails once nesting passes the limit.
template <typename Handler>
class DepthLimited {
 public:
  DepthLimited(Handler& h, int max_depth) : h_(h), max_depth_(max_depth) {}
  bool Null() { return h_.Null(); }
  bool Bool(bool b) { return h_.Bool(b); }
  bool Int(int i) { return h_.Int(i); }
  bool Uint(unsigned u) { return h_.Uint(u); }
  bool Int64(int64_t i) { return h_.Int64(i); }
  bool Uint64(uint64_t u) { return h_.Uint64(u); }
  bool Double(double d) { return h_.Double(d); }
  bool RawNumber(const char* s, rapidjson::SizeType n, bool copy) { return h_.RawNumber(s, n, copy); }
  bool String(const char* s, rapidjson::SizeType n, bool copy) { return h_.String(s, n, copy); }
  bool Key(const char* s, rapidjson::SizeType n, bool copy) { return h_.Key(s, n, copy); }
  bool StartObject() { return Enter() && h_.StartObject(); }
  bool EndObject(rapidjson::SizeType n) { --depth_; return h_.EndObject(n); }
  bool StartArray() { return Enter() && h_.StartArray(); }
  bool EndArray(rapidjson::SizeType n) { --depth_; return h_.EndArray(n); }
  bool too_deep() const { return too_deep_; }

 private:
  bool Enter() {
    if (++depth_ > max_depth_) too_deep_ = true;
    return !too_deep_;
  }
  Handler& h_;
  const int max_depth_;
  int depth_ = 0;
  bool too_deep_ = false;
};

}  // namespace json_detail

// Parses `text` into `doc`. On failure returns false with `error` saying
// where and why ("at offset 12: Missing a comma..." or the depth limit).
// `Document` is rapidjson::Document or another GenericDocument over UTF-8
// (JsonScratch::Document); `reader_stack`, when given, is where the parser
// keeps the strings it decodes (else the heap).
template <typename Document, typename StackAllocator = rapidjson::CrtAllocator>
bool ParseJson(std::string_view text, Document* doc, std::string* error, int max_depth = kMaxJsonDepth,
               StackAllocator* reader_stack = nullptr) {
  rapidjson::MemoryStream ms(text.data(), text.size());
  rapidjson::EncodedInputStream<rapidjson::UTF8<>, rapidjson::MemoryStream> in(ms);
  rapidjson::GenericReader<rapidjson::UTF8<>, rapidjson::UTF8<>, StackAllocator> reader(reader_stack);
  bool too_deep = false;
  auto generate = [&](Document& handler) {
    json_detail::DepthLimited<Document> limited(handler, max_depth);
    // NaN, Infinity and -Infinity are read as numbers, as Triton reads them.
    // Strings must be UTF-8 (JSON's rule): what a request names is echoed
    // back in error bodies and logs, which must stay valid JSON and text.
    constexpr unsigned kFlags = rapidjson::kParseNanAndInfFlag | rapidjson::kParseValidateEncodingFlag;
    const bool ok = !reader.template Parse<kFlags>(in, limited).IsError();
    too_deep = limited.too_deep();
    return ok;
  };
  doc->Populate(generate);
  if (!reader.HasParseError()) return true;
  if (too_deep) {
    *error = "JSON is nested more than " + std::to_string(max_depth) + " levels deep (at offset " +
             std::to_string(reader.GetErrorOffset()) + ")";
  } else {
    *error = "malformed JSON at offset " + std::to_string(reader.GetErrorOffset()) + ": " +
             rapidjson::GetParseError_En(reader.GetParseErrorCode());
  }
  doc->SetNull();
  return false;
}

}  // namespace inferd
