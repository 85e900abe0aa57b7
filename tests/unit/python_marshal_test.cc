// The Python backend's execute messages in marshal (backends/python/
// marshal_writer.h, marshal_reader.h, execute_answer.h), checked against the
// real interpreter: what the server writes, Python's marshal.loads reads as
// the intended values; what Python's marshal.dumps(value, 2) writes, the
// server reads; and anything else the stub might send is refused, never
// read past its end.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include <unistd.h>

#include "../../backends/python/execute_answer.h"
#include "../../backends/python/marshal_reader.h"
#include "../../backends/python/marshal_writer.h"

namespace {

namespace fs = std::filesystem;
using inferd_python::ExecuteAnswer;
using inferd_python::MarshalReader;
using inferd_python::MarshalWriter;
using inferd_python::ReadExecuteAnswer;
using inferd_python::RequestAnswer;

std::string Python() { return fs::exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3"; }

// What `command` prints.
std::string Run(const std::string& command) {
  std::string out;
  FILE* p = popen(command.c_str(), "r");
  if (p == nullptr) return out;
  char buffer[4096];
  size_t n = 0;
  while ((n = fread(buffer, 1, sizeof buffer, p)) > 0) out.append(buffer, n);
  pclose(p);
  return out;
}

// marshal.dumps(<expression>, 2), computed by Python.
std::string Dumps(const std::string& expression) {
  return Run(Python() + " -c 'import marshal, sys; sys.stdout.buffer.write(marshal.dumps(" + expression +
             ", 2))'");
}

// repr(marshal.loads(bytes)), computed by Python.
std::string LoadsRepr(const std::string& bytes) {
  const fs::path file = fs::temp_directory_path() / ("inferd_marshal_" + std::to_string(getpid()));
  std::ofstream(file, std::ios::binary) << bytes;
  std::string out = Run(Python() + " -c 'import marshal, sys; print(repr(marshal.loads(open(sys.argv[1], \"rb\").read())), end=\"\")' " +
                        file.string());
  fs::remove(file);
  return out;
}

TEST(PythonMarshalWriter, PythonReadsWhatTheServerWrites) {
  std::string bytes;
  MarshalWriter out(&bytes);
  out.Tuple(12);
  out.Str("execute");
  out.Int(0);
  out.Int(-1);
  out.Int(std::numeric_limits<int32_t>::max());
  out.Int(std::numeric_limits<int32_t>::min());
  out.Int(int64_t{1} << 40);
  out.Int(std::numeric_limits<int64_t>::min());
  out.UInt(std::numeric_limits<uint64_t>::max());
  out.Str("caf\xC3\xA9 \xF0\x9F\x99\x82");
  out.Str("bad \xFF\xC0\x80 end");  // invalid UTF-8: each bad byte becomes U+FFFD
  out.List(2);
  out.None();
  out.Bool(true);
  out.Tuple(0);
  EXPECT_EQ(LoadsRepr(bytes),
            "('execute', 0, -1, 2147483647, -2147483648, 1099511627776, -9223372036854775808, "
            "18446744073709551615, 'café 🙂', 'bad \ufffd\ufffd\ufffd end', [None, True], ())");
}

TEST(PythonExecuteAnswer, ReadsWhatTheStubWrites) {
  // Interned strs (code constants in the stub) are marshal's 't'.
  std::string why;
  const std::string good = Dumps(
      "(sys.intern(\"responses\"), 4096, (None, "
      "(\"outputs\", ((\"OUTPUT0\", \"FP32\", (1, 16), 64, 64), (\"OUT_BIG\", \"BYTES\", (), 2**40, 0)), "
      "\"{\\\"k\\\": 1}\"), (\"error\", \"bad \\u00e9\", 3), (\"error\", \"no code\", None), "
      "(sys.intern(\"outputs\"), (), None)))");
  ExecuteAnswer answer;
  ASSERT_TRUE(ReadExecuteAnswer(good.data(), good.size(), 5, &answer, &why)) << why;
  EXPECT_FALSE(answer.failed);
  EXPECT_TRUE(answer.region_grew);
  ASSERT_TRUE(answer.listed);
  ASSERT_EQ(answer.requests.size(), 5u);
  EXPECT_EQ(answer.requests[0].kind, RequestAnswer::kSender);
  const RequestAnswer& outputs = answer.requests[1];
  ASSERT_EQ(outputs.kind, RequestAnswer::kOutputs);
  ASSERT_EQ(outputs.outputs.size(), 2u);
  EXPECT_EQ(outputs.outputs[0].name, "OUTPUT0");
  EXPECT_EQ(outputs.outputs[0].datatype, INFERD_TYPE_FP32);
  EXPECT_EQ(outputs.outputs[0].shape, (std::vector<int64_t>{1, 16}));
  EXPECT_EQ(outputs.outputs[0].offset, 64u);
  EXPECT_EQ(outputs.outputs[0].size, 64u);
  EXPECT_EQ(outputs.outputs[1].datatype, INFERD_TYPE_BYTES);
  EXPECT_TRUE(outputs.outputs[1].shape.empty());
  EXPECT_EQ(outputs.outputs[1].offset, uint64_t{1} << 40);
  EXPECT_TRUE(outputs.has_parameters);
  EXPECT_EQ(outputs.parameters_json, "{\"k\": 1}");
  EXPECT_EQ(answer.requests[2].kind, RequestAnswer::kError);
  EXPECT_EQ(answer.requests[2].message, "bad \xC3\xA9");
  EXPECT_EQ(answer.requests[2].code, 3);
  EXPECT_EQ(answer.requests[3].code, 1);  // no code: INTERNAL
  EXPECT_EQ(answer.requests[4].kind, RequestAnswer::kOutputs);
  EXPECT_TRUE(answer.requests[4].outputs.empty());
  EXPECT_FALSE(answer.requests[4].has_parameters);

  // The output's place is checked against the region before it is read.
  EXPECT_TRUE(inferd_python::TensorWithin(outputs.outputs[0], 128, &why));
  EXPECT_FALSE(inferd_python::TensorWithin(outputs.outputs[0], 127, &why));
  EXPECT_FALSE(inferd_python::TensorWithin(outputs.outputs[1], 4096, &why));

  // Every shorter prefix is refused (and never read past).
  for (size_t n = 0; n < good.size(); ++n) {
    ExecuteAnswer partial;
    EXPECT_FALSE(ReadExecuteAnswer(good.data(), n, 5, &partial, &why)) << n;
  }
  // So is anything after a complete answer.
  const std::string longer = good + "N";
  EXPECT_FALSE(ReadExecuteAnswer(longer.data(), longer.size(), 5, &answer, &why));
  EXPECT_NE(why.find("malformed"), std::string::npos) << why;
}

TEST(PythonExecuteAnswer, ReadsTheWholeExecutionsErrorAndTheSendersCase) {
  std::string why;
  const std::string error = Dumps("(\"error\", \"Failed to process the request(s)\", 2)");
  ExecuteAnswer failed;
  ASSERT_TRUE(ReadExecuteAnswer(error.data(), error.size(), 3, &failed, &why)) << why;
  EXPECT_TRUE(failed.failed);
  EXPECT_EQ(failed.message, "Failed to process the request(s)");
  EXPECT_EQ(failed.code, 2);

  const std::string senders = Dumps("(\"responses\", None, None)");
  ExecuteAnswer answer;
  ASSERT_TRUE(ReadExecuteAnswer(senders.data(), senders.size(), 3, &answer, &why)) << why;
  EXPECT_FALSE(answer.failed);
  EXPECT_FALSE(answer.region_grew);
  EXPECT_FALSE(answer.listed);
}

TEST(PythonExecuteAnswer, RefusesWhatIsNotExactlyAnAnswer) {
  const char* refused[] = {
      "(\"responses\", None, (None, None))",                         // 2 answers for 3 requests
      "(\"responses\", None, [None, None, None, None])",             // 4
      "(\"responses\", -1, None)",                                   // a negative size
      "(\"responses\", 2**64, None)",                                // outside 64 bits
      "(\"responses\", None, None, None)",                           // a fourth field
      "(\"answers\", None, None)",                                   // an unknown tag
      "{\"responses\": None}",                                       // a dict
      "(b\"responses\", None, None)",                                // bytes, not str
      "(\"responses\", None, ((\"outputs\", ((\"O\", \"FP33\", (1,), 0, 4),), None), None, None))",  // datatype
      "(\"responses\", None, ((\"outputs\", ((\"O\", \"FP32\", (-1,), 0, 4),), None), None, None))",  // dim < 0
      "(\"responses\", None, ((\"outputs\", ((\"O\", \"FP32\", (1,)*65, 0, 4),), None), None, None))",  // 65 dims
      "(\"responses\", None, ((\"outputs\", ((\"O\", \"FP32\", (1,), -64, 4),), None), None, None))",  // offset
      "(\"responses\", None, ((\"outputs\", ((\"O\", \"FP32\", (1,), 0),), None), None, None))",  // 4 fields
      "(\"responses\", None, ((\"outputs\", ((\"O\", \"FP32\", (1,), 0, 4.0),), None), None, None))",  // float
      "(\"responses\", None, ((\"outputs\", ((\"O\", \"FP32\", (1,), 0, 4),), 7), None, None))",  // parameters
      "(\"responses\", None, ((\"outputs\", ((\"O\", \"FP32\", (1,), 0, 4),)*4097, None), None, None))",  // outputs
      "(\"responses\", None, ((\"error\", 5, 1), None, None))",       // a message that is not a str
      "(\"responses\", None, ((\"error\", \"x\", \"1\"), None, None))",  // a code that is not an int
      "(\"responses\", None, ((\"error\", \"x\", 2**63), None, None))",  // a code past int64
  };
  for (const char* expression : refused) {
    const std::string bytes = Dumps(expression);
    ASSERT_FALSE(bytes.empty()) << expression;
    ExecuteAnswer answer;
    std::string why;
    EXPECT_FALSE(ReadExecuteAnswer(bytes.data(), bytes.size(), 3, &answer, &why)) << expression;
    EXPECT_NE(why.find("malformed"), std::string::npos) << why;
  }
}

TEST(PythonMarshalReader, RefusesLyingLengthsBadTextAndLongInts) {
  // A tuple claiming more elements than bytes remain.
  const std::string huge_tuple("(\xff\xff\xff\x7f", 5);
  MarshalReader tuple(huge_tuple.data(), huge_tuple.size());
  uint32_t count = 0;
  EXPECT_FALSE(tuple.Sequence(&count));
  // A str claiming more bytes than there are, and one that is not UTF-8
  // (a lone surrogate, which marshal's "surrogatepass" would let through).
  const std::string long_str("u\x10\x00\x00\x00" "abc", 8);
  MarshalReader str(long_str.data(), long_str.size());
  std::string_view text;
  EXPECT_FALSE(str.Str(&text));
  const std::string surrogate("u\x03\x00\x00\x00\xed\xa0\x80", 8);
  MarshalReader lone(surrogate.data(), surrogate.size());
  EXPECT_FALSE(lone.Str(&text));
  // Longs: unnormalized (a top digit of 0), over 64 bits, and the extremes.
  const std::string unnormalized("l\x02\x00\x00\x00\x01\x00\x00\x00", 9);
  MarshalReader bad_long(unnormalized.data(), unnormalized.size());
  int64_t value = 0;
  EXPECT_FALSE(bad_long.Int(&value));
  const std::string too_big = Dumps("2**64");
  MarshalReader big(too_big.data(), too_big.size());
  EXPECT_FALSE(big.Int(&value));
  const std::string most = Dumps("2**63 - 1");
  MarshalReader max(most.data(), most.size());
  ASSERT_TRUE(max.Int(&value)) << max.error();
  EXPECT_EQ(value, std::numeric_limits<int64_t>::max());
  const std::string least = Dumps("-2**63");
  MarshalReader min(least.data(), least.size());
  ASSERT_TRUE(min.Int(&value)) << min.error();
  EXPECT_EQ(value, std::numeric_limits<int64_t>::min());
  // At the end there is no None to take.
  EXPECT_FALSE(min.TakeNone());
  EXPECT_TRUE(min.AtEnd());
}

}  // namespace
