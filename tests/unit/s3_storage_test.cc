// The pieces of s3:// repositories that need no server: SigV4 against the
// examples AWS publishes, the ListObjectsV2 parser, the key-to-path rule of
// the mirror, and the location forms. (tests/integration/test_s3_repository.py
// runs the whole against a real S3 server with signatures checked.)
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <thread>

#include "storage/remote_repository.h"
#include "storage/s3_client.h"
#include "storage/s3_list.h"
#include "storage/sigv4.h"

namespace inferd::storage {
namespace {

const AwsCredentials kExampleCredentials{"AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", ""};
const std::string kEmptySha256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

TEST(SigV4, MatchesAwsGetObjectExample) {
  SignedRequest r{"GET", "/test.txt", {}, {}, kEmptySha256};
  r.headers = {{"host", "examplebucket.s3.amazonaws.com"},
               {"range", "bytes=0-9"},
               {"x-amz-content-sha256", kEmptySha256},
               {"x-amz-date", "20130524T000000Z"}};
  EXPECT_EQ(AuthorizationHeader(r, kExampleCredentials, "us-east-1", "20130524T000000Z"),
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
            "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
            "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
}

TEST(SigV4, MatchesAwsListObjectsExample) {
  SignedRequest r{"GET", "/", {{"prefix", "J"}, {"max-keys", "2"}}, {}, kEmptySha256};
  r.headers = {{"host", "examplebucket.s3.amazonaws.com"},
               {"x-amz-content-sha256", kEmptySha256},
               {"x-amz-date", "20130524T000000Z"}};
  EXPECT_EQ(CanonicalQuery(r.query), "max-keys=2&prefix=J");
  EXPECT_EQ(AuthorizationHeader(r, kExampleCredentials, "us-east-1", "20130524T000000Z"),
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
            "SignedHeaders=host;x-amz-content-sha256;x-amz-date, "
            "Signature=34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7");
}

TEST(SigV4, EncodesAsAwsRequires) {
  EXPECT_EQ(UriEncode("a b/c~d*e", true), "a%20b/c~d%2Ae");
  EXPECT_EQ(UriEncode("a b/c", false), "a%20b%2Fc");
  EXPECT_EQ(UriEncode("\xc3\xa9", false), "%C3%A9");
  EXPECT_EQ(AmzDate(1369353600), "20130524T000000Z");
  EXPECT_EQ(Sha256Hex(""), kEmptySha256);
}

TEST(S3List, ReadsObjectsTokensAndEscapes) {
  const std::string xml =
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      "<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Name>b</Name>"
      "<Prefix>repo/</Prefix><KeyCount>2</KeyCount><IsTruncated>true</IsTruncated>"
      "<Contents><Key>repo/m/config.pbtxt</Key><Size>12</Size><ETag>&quot;abc&quot;</ETag></Contents>"
      "<Contents><Key>repo/m/1/a%20b%26c</Key><LastModified>x</LastModified><Size>0</Size></Contents>"
      "<NextContinuationToken>tok&amp;en</NextContinuationToken></ListBucketResult>";
  S3ListPage page;
  std::string error;
  ASSERT_TRUE(ParseListObjectsV2(xml, &page, &error)) << error;
  ASSERT_EQ(page.objects.size(), 2u);
  EXPECT_EQ(page.objects[0].key, "repo/m/config.pbtxt");
  EXPECT_EQ(page.objects[0].size, 12u);
  EXPECT_EQ(page.objects[0].etag, "\"abc\"");
  EXPECT_EQ(page.objects[1].key, "repo/m/1/a b&c");
  EXPECT_TRUE(page.truncated);
  EXPECT_EQ(page.next_token, "tok&en");
}

TEST(S3List, RefusesMalformedPagesNamingWhy) {
  S3ListPage page;
  std::string error;
  EXPECT_FALSE(ParseListObjectsV2("<Error><Code>AccessDenied</Code><Message>no</Message></Error>", &page, &error));
  EXPECT_EQ(error, "AccessDenied: no");
  EXPECT_FALSE(ParseListObjectsV2("<ListBucketResult><Contents><Size>1</Size></Contents></ListBucketResult>", &page,
                                  &error));
  EXPECT_NE(error.find("no valid Key"), std::string::npos);
  EXPECT_FALSE(ParseListObjectsV2(
      "<ListBucketResult><Contents><Key>k</Key><Size>-1</Size></Contents></ListBucketResult>", &page, &error));
  EXPECT_NE(error.find("no valid Size"), std::string::npos);
  EXPECT_FALSE(ParseListObjectsV2(
      "<ListBucketResult><Contents><Key>k%zz</Key><Size>1</Size></Contents></ListBucketResult>", &page, &error));
  EXPECT_FALSE(ParseListObjectsV2("<ListBucketResult><IsTruncated>true</IsTruncated></ListBucketResult>", &page,
                                  &error));
  EXPECT_NE(error.find("NextContinuationToken"), std::string::npos);
  EXPECT_FALSE(ParseListObjectsV2("<ListBucketResult><Contents><Key>&bogus;</Key><Size>1</Size></Contents>"
                                  "</ListBucketResult>",
                                  &page, &error));
  EXPECT_FALSE(ParseListObjectsV2("", &page, &error));
}

TEST(MirrorPath, KeepsKeysInsideTheMirror) {
  std::string path, error;
  ASSERT_TRUE(MirrorPathOf("repo/m/1/model.onnx", "repo/", &path, &error));
  EXPECT_EQ(path, "m/1/model.onnx");
  ASSERT_TRUE(MirrorPathOf("repo/m/1/", "repo/", &path, &error));
  EXPECT_EQ(path, "m/1/");
  ASSERT_TRUE(MirrorPathOf("repo/", "repo/", &path, &error));
  EXPECT_EQ(path, "");
  for (const char* key : {"repo/../x", "repo/m/./x", "repo//x", "repo/m/..", "repo/m/../../x", "other/x"}) {
    EXPECT_FALSE(MirrorPathOf(key, "repo/", &path, &error)) << key;
  }
  EXPECT_FALSE(MirrorPathOf(std::string("repo/a\0b", 8), "repo/", &path, &error));
  std::string deep = "repo/";
  for (int i = 0; i < 40; ++i) deep += "d/";
  EXPECT_FALSE(MirrorPathOf(deep + "x", "repo/", &path, &error));
  EXPECT_FALSE(MirrorPathOf("repo/" + std::string(2000, 'k'), "repo/", &path, &error));
}

TEST(S3Location, ParsesTritonsForms) {
  ::unsetenv("AWS_ENDPOINT_URL");
  ::unsetenv("AWS_ENDPOINT_URL_S3");
  ::setenv("AWS_DEFAULT_REGION", "eu-west-1", 1);
  S3Location l;
  std::string error;
  ASSERT_TRUE(ParseS3Location("s3://my-bucket/path/to/repo/", &l, &error)) << error;
  EXPECT_TRUE(l.endpoint.tls);
  EXPECT_TRUE(l.endpoint.virtual_host);
  EXPECT_EQ(l.endpoint.host, "s3.eu-west-1.amazonaws.com");
  EXPECT_EQ(l.endpoint.bucket, "my-bucket");
  EXPECT_EQ(l.prefix, "path/to/repo/");
  EXPECT_EQ(l.endpoint.region, "eu-west-1");

  ASSERT_TRUE(ParseS3Location("s3://my.dotted.bucket", &l, &error));
  EXPECT_FALSE(l.endpoint.virtual_host);  // dots break TLS wildcards: path style
  EXPECT_EQ(l.prefix, "");

  ASSERT_TRUE(ParseS3Location("s3://localhost:9000/b/repo", &l, &error));
  EXPECT_FALSE(l.endpoint.tls);
  EXPECT_EQ(l.endpoint.host, "localhost");
  EXPECT_EQ(l.endpoint.port, "9000");
  EXPECT_EQ(l.endpoint.bucket, "b");
  EXPECT_EQ(l.prefix, "repo/");

  ASSERT_TRUE(ParseS3Location("s3://https://minio.example:8443/b", &l, &error));
  EXPECT_TRUE(l.endpoint.tls);
  EXPECT_EQ(l.endpoint.port, "8443");
  ASSERT_TRUE(ParseS3Location("s3://http://[::1]:9000/b/x", &l, &error));
  EXPECT_EQ(l.endpoint.host, "::1");

  ::setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:7000", 1);
  ASSERT_TRUE(ParseS3Location("s3://b/r", &l, &error));
  EXPECT_FALSE(l.endpoint.tls);
  EXPECT_EQ(l.endpoint.port, "7000");
  EXPECT_FALSE(l.endpoint.virtual_host);
  ::unsetenv("AWS_ENDPOINT_URL");
  ::unsetenv("AWS_DEFAULT_REGION");

  for (const char* bad : {"s3://", "gs://b/x", "s3://http://host/", "s3://http://h:0/b", "s3://h:99999/b",
                          "s3://h:x/b"}) {
    EXPECT_FALSE(ParseS3Location(bad, &l, &error)) << bad;
  }
}

// A server that answers a byte at a time, never idle for a whole timeout:
// the request's total deadline ends it (the listing fails, naming it).
TEST(S3Client, ATricklingServerCannotHoldARequestForever) {
  const int listener = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(listener, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  ASSERT_EQ(::listen(listener, 1), 0);
  socklen_t length = sizeof address;
  ASSERT_EQ(::getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length), 0);
  std::atomic<bool> stop{false};
  std::thread server([&] {
    const int client = ::accept(listener, nullptr, nullptr);
    if (client < 0) return;
    char request[4096];
    (void)::recv(client, request, sizeof request, 0);
    const char head[] = "HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n";
    (void)::send(client, head, sizeof head - 1, MSG_NOSIGNAL);
    for (int i = 0; i < 150 && !stop; ++i) {  // at most 30 s, a byte every 200 ms
      if (::send(client, "<", 1, MSG_NOSIGNAL) != 1) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    ::close(client);
  });
  S3Endpoint endpoint;
  endpoint.tls = false;
  endpoint.host = "127.0.0.1";
  endpoint.port = std::to_string(ntohs(address.sin_port));
  endpoint.bucket = "b";
  const S3Client client(endpoint, AwsCredentials{}, std::chrono::seconds(1));
  std::vector<S3Object> objects;
  const Status st = client.List("repo/", 10, &objects);
  stop = true;
  server.join();
  ::close(listener);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("no whole answer within"), std::string::npos) << st.message();
}

}  // namespace
}  // namespace inferd::storage
