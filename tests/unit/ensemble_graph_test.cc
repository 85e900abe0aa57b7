#include <gtest/gtest.h>

#include <map>

#include "core/model_config_parse.h"
#include "core/scheduler/ensemble_graph.h"

namespace inferd {
namespace {

inference::ModelConfig Parse(const std::string& text) {
  inference::ModelConfig c;
  Status st = ParseModelConfigText(text, "config.pbtxt", &c);
  EXPECT_TRUE(st.ok()) << st.message();
  return c;
}

// Composing models by name: a batching FP32 identity, a two-input adder,
// an INT32 identity and a decoupled INT32 model.
Status Lookup(const std::string& name, int64_t, inference::ModelConfig* out) {
  static const std::map<std::string, std::string> kModels = {
      {"id", R"(name: "id" max_batch_size: 8
                input [{ name: "IN" data_type: TYPE_FP32 dims: [-1] }]
                output [{ name: "OUT" data_type: TYPE_FP32 dims: [-1] }])"},
      {"add", R"(name: "add" max_batch_size: 4
                 input [{ name: "A" data_type: TYPE_FP32 dims: [4] }, { name: "B" data_type: TYPE_FP32 dims: [4] },
                        { name: "BIAS" data_type: TYPE_FP32 dims: [4] optional: true }]
                 output [{ name: "SUM" data_type: TYPE_FP32 dims: [4] }])"},
      {"id_nobatch", R"(name: "id_nobatch" max_batch_size: 0
                        input [{ name: "IN" data_type: TYPE_FP32 dims: [-1, 4] }]
                        output [{ name: "OUT" data_type: TYPE_FP32 dims: [-1, 4] }])"},
      {"int_id", R"(name: "int_id" input [{ name: "IN" data_type: TYPE_INT32 dims: [1] }]
                    output [{ name: "OUT" data_type: TYPE_INT32 dims: [1] }])"},
      {"stream", R"(name: "stream" model_transaction_policy { decoupled: true }
                    input [{ name: "IN" data_type: TYPE_INT32 dims: [1] }]
                    output [{ name: "OUT" data_type: TYPE_INT32 dims: [1] }])"},
  };
  auto it = kModels.find(name);
  if (it == kModels.end()) return Status::NotFound("model '" + name + "' is not loaded");
  *out = Parse(it->second);
  return Status::Ok();
}

std::string Step(const std::string& model, const std::map<std::string, std::string>& in,
                 const std::map<std::string, std::string>& out) {
  std::string s = "{ model_name: \"" + model + "\" model_version: -1 ";
  for (const auto& [k, v] : in) s += "input_map { key: \"" + k + "\" value: \"" + v + "\" } ";
  for (const auto& [k, v] : out) s += "output_map { key: \"" + k + "\" value: \"" + v + "\" } ";
  return s + "}";
}

std::string Ensemble(const std::string& io, const std::vector<std::string>& steps, int max_batch = 4) {
  std::string s = "name: \"e\" platform: \"ensemble\" max_batch_size: " + std::to_string(max_batch) + "\n" + io +
                  "\nensemble_scheduling { step [";
  for (size_t i = 0; i < steps.size(); ++i) s += (i ? ", " : "") + steps[i];
  return s + "] }";
}

const char* kFp32Io = R"(input [{ name: "X" data_type: TYPE_FP32 dims: [-1] }]
                         output [{ name: "Y" data_type: TYPE_FP32 dims: [-1] }])";

Status Build(const std::string& text, EnsembleGraph* g) { return BuildEnsembleGraph(Parse(text), Lookup, g); }

void ExpectError(const std::string& text, const std::string& fragment) {
  EnsembleGraph g;
  Status st = Build(text, &g);
  ASSERT_FALSE(st.ok()) << text;
  EXPECT_NE(st.message().find(fragment), std::string::npos) << "message: " << st.message() << "\nwanted: " << fragment;
}

TEST(EnsembleGraph, AChainIsOrderedProducersFirstWithItsConsumersAndProducers) {
  EnsembleGraph g;
  // Steps listed out of order: the order comes from the data flow.
  ASSERT_TRUE(Build(Ensemble(kFp32Io, {Step("id", {{"IN", "t"}}, {{"OUT", "Y"}}), Step("id", {{"IN", "X"}}, {{"OUT", "t"}})}), &g).ok());
  EXPECT_EQ(g.order, (std::vector<size_t>{1, 0}));
  EXPECT_EQ(g.producer.at("t"), 1u);
  EXPECT_EQ(g.consumers.at("X"), (std::vector<size_t>{1}));
  EXPECT_EQ(g.outputs, (std::vector<std::string>{"Y"}));
  EXPECT_FALSE(g.decoupled);
  EXPECT_TRUE(g.batching);
}

TEST(EnsembleGraph, OptionalInputsMayStayUnmappedAndBatchDimsMeetNonBatchingModels) {
  EnsembleGraph g;
  const char* io = R"(input [{ name: "P" data_type: TYPE_FP32 dims: [4] }, { name: "Q" data_type: TYPE_FP32 dims: [4] }]
                      output [{ name: "S" data_type: TYPE_FP32 dims: [4] }])";
  // add's BIAS is optional; id_nobatch's [-1,4] meets the ensemble's batched [4].
  Status st = Build(Ensemble(io, {Step("add", {{"A", "P"}, {"B", "Q"}}, {{"SUM", "s"}}),
                                  Step("id_nobatch", {{"IN", "s"}}, {{"OUT", "S"}})}), &g);
  EXPECT_TRUE(st.ok()) << st.message();
}

TEST(EnsembleGraph, ADecoupledStepMakesTheEnsembleDecoupled) {
  EnsembleGraph g;
  const char* io = R"(input [{ name: "N" data_type: TYPE_INT32 dims: [1] }]
                      output [{ name: "M" data_type: TYPE_INT32 dims: [1] }])";
  ASSERT_TRUE(Build(Ensemble(io, {Step("stream", {{"IN", "N"}}, {{"OUT", "n"}}), Step("int_id", {{"IN", "n"}}, {{"OUT", "M"}})}, 0), &g).ok());
  EXPECT_TRUE(g.decoupled);
}

TEST(EnsembleGraph, ConfigErrorsNameTheStepAndTensor) {
  ExpectError(Ensemble(kFp32Io, {}), "must specify 'step'");
  ExpectError(Ensemble(kFp32Io, {Step("", {{"IN", "X"}}, {{"OUT", "Y"}})}), "must specify 'model_name' in step 0");
  ExpectError(Ensemble(kFp32Io, {Step("id", {}, {{"OUT", "Y"}})}), "must specify 'input_map' in step 0");
  ExpectError(Ensemble(kFp32Io, {Step("id", {{"IN", "X"}}, {})}), "must specify 'output_map' in step 0");
  ExpectError(Ensemble(kFp32Io, {Step("e", {{"IN", "X"}}, {{"OUT", "Y"}})}), "names the ensemble itself");
  ExpectError(Ensemble(kFp32Io, {Step("id", {{"IN", "X"}}, {{"OUT", "Y"}}), Step("id", {{"IN", "X"}}, {{"OUT", "Y"}})}),
              "ensemble tensor 'Y' is produced twice in ensemble 'e': by step 0 and by step 1");
  ExpectError(Ensemble(kFp32Io, {Step("id", {{"IN", "X"}}, {{"OUT", "X"}})}), "is an input of ensemble 'e' and is also produced");
  ExpectError(Ensemble(kFp32Io, {Step("id", {{"IN", "X"}}, {{"OUT", "Z"}})}), "ensemble output 'Y' of ensemble 'e' is not produced");
  ExpectError(Ensemble(kFp32Io, {Step("id", {{"IN", "X"}}, {{"OUT", "Y"}}), Step("id", {{"IN", "X"}}, {{"OUT", "spare"}})}),
              "'spare' produced by step 1 is unused");
  ExpectError(Ensemble(kFp32Io, {Step("id", {{"IN", "X"}}, {{"OUT", "Y"}}), Step("id", {{"IN", "b"}}, {{"OUT", "a"}}),
                                 Step("id", {{"IN", "a"}}, {{"OUT", "b"}})}),
              "steps 1, 2 can never run: they depend on each other's outputs (a cycle)");
  ExpectError("name: \"e\" platform: \"ensemble\" instance_group [{ count: 1 }] " + Ensemble(kFp32Io, {}).substr(30),
              "instance group should not be specified");
  std::string many = Ensemble(kFp32Io, std::vector<std::string>(kMaxEnsembleSteps + 1, Step("id", {{"IN", "X"}}, {{"OUT", "Y"}})));
  ExpectError(many, "at most 256 are allowed");
}

TEST(EnsembleGraph, ComposingModelErrorsNameTheStepModelAndTensor) {
  ExpectError(Ensemble(kFp32Io, {Step("missing", {{"IN", "X"}}, {{"OUT", "Y"}})}),
              "in ensemble 'e', step 0 (model 'missing'): model 'missing' is not loaded");
  ExpectError(Ensemble(kFp32Io, {Step("id", {{"IN", "X"}, {"NOPE", "X"}}, {{"OUT", "Y"}})}), "non-existing input 'NOPE'");
  ExpectError(Ensemble(kFp32Io, {Step("id", {{"IN", "X"}}, {{"NOPE", "Y"}})}), "non-existing output 'NOPE'");
  const char* io = R"(input [{ name: "P" data_type: TYPE_FP32 dims: [4] }]
                      output [{ name: "S" data_type: TYPE_FP32 dims: [4] }])";
  ExpectError(Ensemble(io, {Step("add", {{"A", "P"}}, {{"SUM", "S"}})}), "input 'B' of model 'add' is not mapped");
  ExpectError(Ensemble(io, {Step("add", {{"A", "P"}, {"B", "P"}}, {{"SUM", "S"}})}, 8),
              "allows maximum batch size 8, but it contains model 'add' which only allows maximum batch size to be 4");
  const char* ints = R"(input [{ name: "X" data_type: TYPE_INT32 dims: [-1] }]
                        output [{ name: "Y" data_type: TYPE_FP32 dims: [-1] }])";
  ExpectError(Ensemble(ints, {Step("id", {{"IN", "X"}}, {{"OUT", "Y"}})}),
              "ensemble tensor 'X': inconsistent data type: TYPE_INT32 is inferred from ensemble 'e' while TYPE_FP32");
  const char* three = R"(input [{ name: "P" data_type: TYPE_FP32 dims: [3] }]
                         output [{ name: "S" data_type: TYPE_FP32 dims: [4] }])";
  ExpectError(Ensemble(three, {Step("add", {{"A", "P"}, {"B", "P"}}, {{"SUM", "S"}})}),
              "ensemble tensor 'P': inconsistent shape: [-1,3] is inferred from ensemble 'e' while [-1,4]");
  const char* io2 = R"(input [{ name: "N" data_type: TYPE_INT32 dims: [1] }]
                       output [{ name: "M" data_type: TYPE_INT32 dims: [1] }, { name: "K" data_type: TYPE_INT32 dims: [1] }])";
  ExpectError(Ensemble(io2, {Step("stream", {{"IN", "N"}}, {{"OUT", "M"}}), Step("int_id", {{"IN", "N"}}, {{"OUT", "K"}})}, 0),
              "originate from different decoupled models");
}

TEST(EnsembleGraph, ComposingModelNamesAreEachListedOnce) {
  auto names = ComposingModelNames(Parse(Ensemble(kFp32Io, {Step("id", {{"IN", "X"}}, {{"OUT", "t"}}),
                                                            Step("id", {{"IN", "t"}}, {{"OUT", "Y"}})})));
  EXPECT_EQ(names, (std::set<std::string>{"id"}));
}

}  // namespace
}  // namespace inferd
