#include "frontend/http/infer_codec.h"

#include <gtest/gtest.h>

#include <cstring>

namespace inferd::http {
namespace {

std::shared_ptr<const std::string> Body(std::string s) {
  return std::make_shared<const std::string>(std::move(s));
}

template <typename T>
std::vector<T> Values(const InputTensor& t) {
  std::string all;
  for (const auto& [p, n] : t.buffers) all.append(p, n);
  std::vector<T> out(all.size() / sizeof(T));
  std::memcpy(out.data(), all.data(), all.size());
  return out;
}

TEST(InferCodec, ParsesNestedJsonDataIdOutputsAndParameters) {
  InferenceRequest r;
  Status st = ParseInferRequest(Body(R"({"id": "req-7", "parameters": {"sequence_id": 42, "flag": true},
      "inputs": [{"name": "A", "datatype": "INT32", "shape": [2, 2], "data": [[1, 2], [3, -4]]},
                 {"name": "S", "datatype": "BYTES", "shape": [2], "data": ["hi", ""]},
                 {"name": "H", "datatype": "FP16", "shape": [1], "data": [1.5]}],
      "outputs": [{"name": "OUT", "parameters": {"binary_data": true, "classification": 3}}]})"),
                                std::nullopt, &r);
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(r.id, "req-7");
  EXPECT_EQ(r.correlation_id, 42u);
  EXPECT_EQ(r.parameters["flag"], "true");
  EXPECT_EQ(r.custom_parameters_json, R"({"flag":true})");  // sequence_id is the protocol's
  ASSERT_EQ(r.inputs.size(), 3u);
  EXPECT_EQ(r.inputs[0].shape, (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(Values<int32_t>(r.inputs[0]), (std::vector<int32_t>{1, 2, 3, -4}));
  EXPECT_EQ(r.inputs[1].byte_size, 4u + 2u + 4u);
  EXPECT_EQ(Values<uint16_t>(r.inputs[2]), (std::vector<uint16_t>{0x3e00}));
  ASSERT_EQ(r.outputs.size(), 1u);
  EXPECT_TRUE(r.outputs[0].binary);
  EXPECT_EQ(r.outputs[0].classification_count, 3u);
}

TEST(InferCodec, CustomParametersKeepTheirTypesAndLeaveTheProtocolsOut) {
  InferenceRequest r;
  Status st = ParseInferRequest(
      Body(R"({"parameters": {"binary_data_output": true, "priority": 2, "max_tokens": 8, "stop": ["a", "b"],)"
           R"( "t": 0.5, "name": "x\"y"}, "inputs": [{"name": "A", "datatype": "INT32", "shape": [1], "data": [1]}]})"),
      std::nullopt, &r);
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(r.custom_parameters_json, R"({"max_tokens":8,"stop":["a","b"],"t":0.5,"name":"x\"y"})");
  InferenceRequest none;
  ASSERT_TRUE(ParseInferRequest(Body(R"({"parameters": {"sequence_id": 3, "sequence_start": true},)"
                                     R"( "inputs": [{"name": "A", "datatype": "INT32", "shape": [1], "data": [1]}]})"),
                                std::nullopt, &none)
                  .ok());
  EXPECT_EQ(none.custom_parameters_json, "");
}

TEST(InferCodec, BinaryInputsPointIntoTheBody) {
  const std::string header =
      R"({"inputs":[{"name":"A","datatype":"FP32","shape":[2],"parameters":{"binary_data_size":8}},)"
      R"({"name":"B","datatype":"UINT8","shape":[3],"parameters":{"binary_data_size":3}}]})";
  float a[2] = {1.25f, -3.0f};
  std::string body = header;
  body.append(reinterpret_cast<const char*>(a), 8);
  body.append("\x01\x02\x03", 3);
  auto shared = Body(body);
  InferenceRequest r;
  ASSERT_TRUE(ParseInferRequest(shared, header.size(), &r).ok());
  EXPECT_EQ(Values<float>(r.inputs[0]), (std::vector<float>{1.25f, -3.0f}));
  EXPECT_EQ(r.inputs[0].buffers[0].first, shared->data() + header.size());  // no copy
  EXPECT_EQ(Values<uint8_t>(r.inputs[1]), (std::vector<uint8_t>{1, 2, 3}));
}

void ExpectParseError(const std::string& body, std::optional<size_t> header, const std::string& frag) {
  InferenceRequest r;
  Status st = ParseInferRequest(Body(body), header, &r);
  ASSERT_FALSE(st.ok()) << body;
  EXPECT_EQ(st.code(), Status::Code::kInvalidArg);
  EXPECT_NE(st.message().find(frag), std::string::npos) << st.message();
}

TEST(InferCodec, BadRequestsNameTheProblem) {
  ExpectParseError("{\"inputs\": [", std::nullopt, "malformed JSON");
  ExpectParseError("[]", std::nullopt, "JSON object");
  // A name that is not UTF-8 is refused before anything echoes it back.
  ExpectParseError("{\"inputs\":[{\"name\":\"A\xff\",\"datatype\":\"FP32\",\"shape\":[1],\"data\":[1]}]}",
                   std::nullopt, "Invalid encoding");
  ExpectParseError(R"({"inputs":[{"name":"A","datatype":"FP33","shape":[1],"data":[1]}]})",
                   std::nullopt, "unknown datatype 'FP33'");
  ExpectParseError(R"({"inputs":[{"name":"A","datatype":"FP32","shape":[3],"data":[1,2]}]})",
                   std::nullopt, "Unable to parse 'data': Shape does not match true shape of 'data' field");
  ExpectParseError(R"({"inputs":[{"name":"A","datatype":"INT8","shape":[1],"data":[300]}]})",
                   std::nullopt, "input 'A'");
  ExpectParseError(R"({"inputs":[{"name":"A","datatype":"BOOL","shape":[1],"data":[1]}]})",
                   std::nullopt, "true or false");
  ExpectParseError(R"({"inputs":[{"name":"A","datatype":"FP32","shape":[1]}]})", std::nullopt,
                   "none of 'data', 'binary_data_size' or 'shared_memory_region'");
  const std::string h =
      R"({"inputs":[{"name":"A","datatype":"FP32","shape":[2],"parameters":{"binary_data_size":8}}]})";
  ExpectParseError(h + "1234", h.size(), "only 4 bytes");           // truncated
  ExpectParseError(h + "123456789", h.size(), "9 bytes of binary");  // trailing bytes
  ExpectParseError(h, h.size() + 5, "Inference-Header-Content-Length");
}

TEST(InferCodec, EncodesJsonAndBinaryOutputs) {
  auto req = std::make_shared<InferenceRequest>();
  req->model_name = "m";
  req->served_version = 3;
  req->id = "x";
  req->outputs.emplace_back().name = "BIN";
  req->outputs.back().binary = true;
  req->outputs.emplace_back().name = "JSON";
  InferenceResponse res(req);
  int32_t vals[3] = {1, -2, 3};
  std::memcpy(res.AddOutput("JSON", INFERD_TYPE_INT32, {3}, 12)->data.get(), vals, 12);
  std::memcpy(res.AddOutput("BIN", INFERD_TYPE_UINT8, {2}, 2)->data.get(), "\x07\x08", 2);
  EncodedResponse out;
  EncodeInferResponse(res, &out);
  ASSERT_TRUE(out.header_length.has_value());
  const std::string json = out.body.substr(0, *out.header_length);
  EXPECT_NE(json.find(R"("model_version":"3")"), std::string::npos) << json;
  EXPECT_NE(json.find(R"("id":"x")"), std::string::npos) << json;
  EXPECT_NE(json.find(R"("data":[1,-2,3])"), std::string::npos) << json;
  EXPECT_NE(json.find(R"("binary_data_size":2)"), std::string::npos) << json;
  EXPECT_EQ(out.body.size(), *out.header_length);
  ASSERT_EQ(out.binary.size(), 1u);
  EXPECT_EQ(out.binary[0], "\x07\x08");
}

TEST(InferCodec, EncodesResponseParametersWithTheirTypes) {
  auto req = std::make_shared<InferenceRequest>();
  req->model_name = "m";
  InferenceResponse res(req);
  ResponseParameter s, i, b, d;
  s.name = "s";
  s.text = "caf\xc3\xa9 \"q\"";
  i.type = ResponseParameter::Type::kInt;
  i.name = "i";
  i.integer = -42;
  b.type = ResponseParameter::Type::kBool;
  b.name = "b";
  b.boolean = true;
  d.type = ResponseParameter::Type::kDouble;
  d.name = "d";
  d.number = 0.5;
  res.parameters = {s, i, b, d};
  EncodedResponse out;
  EncodeInferResponse(res, &out);
  EXPECT_NE(out.body.find("\"parameters\":{\"s\":\"caf\xc3\xa9 \\\"q\\\"\",\"i\":-42,\"b\":true,\"d\":0.5}"),
            std::string::npos)
      << out.body;
}

}  // namespace
}  // namespace inferd::http
