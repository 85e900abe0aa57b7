// ReplyBody: an HTTP answer's text and its tail ranges go out as one body,
// in order, with a Content-Length covering both, and the tail is not copied.
#include "frontend/http/reply_body.h"

#include <gtest/gtest.h>

#include <boost/beast/http/write.hpp>
#include <sstream>

namespace inferd::http {
namespace {

namespace beast_http = boost::beast::http;

std::string Serialize(beast_http::response<ReplyBody>& res) {
  std::ostringstream out;
  out << res;  // Beast's serializer, the one the server's async_write drives
  return out.str();
}

TEST(ReplyBody, TextThenTailWithOneContentLength) {
  auto owned = std::make_shared<const std::string>("\x01\x02\x03\x04\x05\x06", 6);
  beast_http::response<ReplyBody> res(beast_http::status::ok, 11);
  res.body().text = R"({"outputs":[]})";
  res.body().tail.emplace_back(owned->data(), 2);
  res.body().tail.emplace_back(owned->data() + 2, 0);  // empty ranges are skipped
  res.body().tail.emplace_back(owned->data() + 2, 4);
  res.body().owner = owned;
  res.prepare_payload();
  EXPECT_EQ(res[beast_http::field::content_length], std::to_string(14 + 6));
  const std::string wire = Serialize(res);
  const size_t body = wire.find("\r\n\r\n") + 4;
  EXPECT_EQ(wire.substr(body), std::string(R"({"outputs":[]})") + std::string("\x01\x02\x03\x04\x05\x06", 6));
}

TEST(ReplyBody, TextOnlyAndEmpty) {
  beast_http::response<ReplyBody> res(beast_http::status::ok, 11);
  res.prepare_payload();
  EXPECT_EQ(res[beast_http::field::content_length], "0");
  EXPECT_EQ(Serialize(res).substr(Serialize(res).find("\r\n\r\n") + 4), "");
  res.body().text = "ok";
  res.prepare_payload();
  EXPECT_EQ(res[beast_http::field::content_length], "2");
  const std::string wire = Serialize(res);
  EXPECT_EQ(wire.substr(wire.find("\r\n\r\n") + 4), "ok");
}

}  // namespace
}  // namespace inferd::http
