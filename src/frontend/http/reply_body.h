// ReplyBody: the Beast body type of every HTTP answer inferd writes.
//
// An answer is `text` (JSON, an error, a metrics page) followed by `tail`:
// byte ranges written from where they already lie, without being copied into
// the body first. `owner` keeps the memory of `tail` alive until the answer
// has been written and the message is destroyed. Inference answers put their
// binary output tensors, often megabytes each, in `tail`.
#pragma once

#include <boost/asio/buffer.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/container/small_vector.hpp>
#include <boost/optional.hpp>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace inferd::http {

struct ReplyBody {
  struct value_type {
    std::string text;
    // Inline for up to four ranges (an answer's binary outputs): no allocation.
    boost::container::small_vector<boost::asio::const_buffer, 4> tail;
    std::shared_ptr<const void> owner;  // owns the memory `tail` points into
    // Let go once the answer has been written (or dropped): a traced
    // request stamps its send end here.
    std::shared_ptr<void> sent;
  };

  // Content-Length: the text and every tail range.
  static std::uint64_t size(const value_type& body) {
    std::uint64_t n = body.text.size();
    for (const auto& b : body.tail) n += b.size();
    return n;
  }

  // Hands Beast the whole body as one buffer sequence; nothing is copied.
  class writer {
   public:
    // The text and the tail ranges; inline (no allocation) for up to five.
    using const_buffers_type = boost::container::small_vector<boost::asio::const_buffer, 5>;

    template <bool isRequest, class Fields>
    writer(const boost::beast::http::header<isRequest, Fields>&, const value_type& body) : body_(body) {}

    void init(boost::beast::error_code& ec) { ec = {}; }

    boost::optional<std::pair<const_buffers_type, bool>> get(boost::beast::error_code& ec) {
      ec = {};
      const_buffers_type buffers;
      buffers.reserve(1 + body_.tail.size());
      if (!body_.text.empty()) buffers.emplace_back(body_.text.data(), body_.text.size());
      for (const auto& b : body_.tail)
        if (b.size() > 0) buffers.push_back(b);
      return std::make_pair(std::move(buffers), false);  // false: this was all of it
    }

   private:
    const value_type& body_;
  };
};

}  // namespace inferd::http
