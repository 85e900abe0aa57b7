#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include <unistd.h>

#include "core/model_config_parse.h"
#include "core/model_config_validate.h"

namespace inferd {
namespace {
namespace fs = std::filesystem;

inference::ModelConfig Parse(const std::string& text) {
  inference::ModelConfig c;
  Status st = ParseModelConfigText(text, "config.pbtxt", &c);
  EXPECT_TRUE(st.ok()) << st.message();
  return c;
}

// Normalizes and validates a config for model folder "m".
Status Check(const std::string& text, int gpus = 0) {
  inference::ModelConfig c = Parse(text);
  ConfigContext ctx{"m", std::filesystem::temp_directory_path().string(), gpus};
  INFERD_RETURN_IF_ERROR(NormalizeModelConfig(ctx, &c));
  return ValidateModelConfig(ctx, c);
}

void ExpectError(const std::string& text, const std::string& fragment) {
  Status st = Check(text);
  EXPECT_FALSE(st.ok()) << text;
  EXPECT_NE(st.message().find(fragment), std::string::npos)
      << "message: " << st.message() << "\nexpected to contain: " << fragment;
}

TEST(ModelConfigParse, TritonStyleConfigParses) {
  inference::ModelConfig c = Parse(R"(
    name: "densenet_onnx"
    platform: "onnxruntime_onnx"
    max_batch_size: 8
    input [{ name: "data_0" data_type: TYPE_FP32 format: FORMAT_NCHW dims: [3, 224, 224]
             reshape { shape: [1, 3, 224, 224] } }]
    output [{ name: "fc6_1" data_type: TYPE_FP32 dims: [1000] label_filename: "labels.txt" }]
    instance_group [{ count: 2 kind: KIND_CPU }]
    dynamic_batching { preferred_batch_size: [4, 8] max_queue_delay_microseconds: 100 }
    parameters { key: "intra_op_thread_count" value { string_value: "2" } }
    optimization { execution_accelerators { cpu_execution_accelerator: [{ name: "openvino" }] } }
    model_warmup [{ name: "w" batch_size: 1
                    inputs { key: "data_0" value { data_type: TYPE_FP32 dims: [3, 224, 224] zero_data: true } } }]
    version_policy { specific { versions: [1, 3] } })");
  EXPECT_EQ(c.name(), "densenet_onnx");
  EXPECT_EQ(c.max_batch_size(), 8);
  EXPECT_EQ(c.input(0).dims_size(), 3);
  EXPECT_EQ(c.instance_group(0).count(), 2);
  EXPECT_EQ(c.dynamic_batching().preferred_batch_size(1), 8);
  EXPECT_EQ(c.parameters().at("intra_op_thread_count").string_value(), "2");
  EXPECT_EQ(c.version_policy().specific().versions_size(), 2);
}

TEST(ModelConfigParse, ErrorsNameFileLineAndField) {
  inference::ModelConfig c;
  Status st = ParseModelConfigText("name: \"x\"\nmax_batch_sise: 4\n", "/repo/x/config.pbtxt", &c);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("/repo/x/config.pbtxt:2:"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("max_batch_sise"), std::string::npos) << st.message();
  st = ParseModelConfigText("input [{ data_type: TYPE_NOPE }]", "c.pbtxt", &c);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("TYPE_NOPE"), std::string::npos) << st.message();
}

// The text format takes any bytes through escapes; such a name could be
// neither printed as the config JSON nor sent in a gRPC answer (found by the
// model_config fuzzer).
TEST(ModelConfigParse, StringsMustBeUtf8) {
  inference::ModelConfig c;
  Status st = ParseModelConfigText(
      "name: \"m\" output [{ name: \"ok\" }, { name: \"bad\\377\" }]", "c.pbtxt", &c);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("output[1].name"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("UTF-8"), std::string::npos) << st.message();
  st = ParseModelConfigText("parameters { key: \"\\300\\200\" value { string_value: \"x\" } }",
                            "c.pbtxt", &c);
  EXPECT_FALSE(st.ok()) << "an overlong encoding of NUL is not UTF-8";
  ASSERT_TRUE(ParseModelConfigText("name: \"caf\\303\\251 \\360\\237\\230\\200\"", "c.pbtxt", &c).ok());
  EXPECT_EQ(c.name(), "caf\xc3\xa9 \xf0\x9f\x98\x80");
}

TEST(ModelConfigParse, JsonRoundTripUsesProtoFieldNames) {
  inference::ModelConfig c = Parse(R"(name: "m" backend: "identity" max_batch_size: 4
    input [{ name: "INPUT0" data_type: TYPE_FP32 dims: [16] }])");
  const std::string json = ModelConfigToJson(c);
  EXPECT_NE(json.find("\"max_batch_size\":4"), std::string::npos) << json;
  EXPECT_NE(json.find("\"data_type\":\"TYPE_FP32\""), std::string::npos) << json;
  inference::ModelConfig back;
  ASSERT_TRUE(ModelConfigFromJson(json, &back).ok());
  EXPECT_EQ(back.SerializeAsString(), c.SerializeAsString());
  Status st = ModelConfigFromJson("{\"max_batch_size\": 1, \"bogus\": 2}", &back);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("bogus"), std::string::npos) << st.message();
}

TEST(ModelConfigValidate, NormalizeFillsTritonDefaults) {
  inference::ModelConfig c = Parse(R"(platform: "onnxruntime_onnx")");
  ConfigContext ctx{"m", "/tmp", 0};
  ASSERT_TRUE(NormalizeModelConfig(ctx, &c).ok());
  EXPECT_EQ(c.name(), "m");
  EXPECT_EQ(c.backend(), "onnxruntime");
  ASSERT_EQ(c.instance_group_size(), 1);
  EXPECT_EQ(c.instance_group(0).count(), 2);  // Triton: two CPU instances for ONNX Runtime
  EXPECT_EQ(c.instance_group(0).kind(), inference::ModelInstanceGroup::KIND_CPU);
  EXPECT_EQ(c.instance_group(0).name(), "m");  // Triton's name for the group it adds
  EXPECT_EQ(c.version_policy().latest().num_versions(), 1u);
  EXPECT_TRUE(c.optimization().input_pinned_memory().enable());
  EXPECT_TRUE(c.optimization().output_pinned_memory().enable());

  inference::ModelConfig other = Parse(R"(backend: "identity" max_batch_size: 8 dynamic_batching {}
      instance_group [{ kind: KIND_CPU }, { count: 3 }])");
  ASSERT_TRUE(NormalizeModelConfig(ctx, &other).ok());
  EXPECT_EQ(other.instance_group(0).count(), 1);  // other backends: one
  EXPECT_EQ(other.instance_group(1).name(), "m_1");
  EXPECT_EQ(other.instance_group(1).count(), 3);
  ASSERT_EQ(other.dynamic_batching().preferred_batch_size_size(), 1);
  EXPECT_EQ(other.dynamic_batching().preferred_batch_size(0), 8);

  inference::ModelConfig seq = Parse(R"(backend: "identity" max_batch_size: 4 sequence_batching { oldest {} })");
  ASSERT_TRUE(NormalizeModelConfig(ctx, &seq).ok());
  EXPECT_EQ(seq.sequence_batching().max_sequence_idle_microseconds(), 1000000u);
  ASSERT_EQ(seq.sequence_batching().oldest().preferred_batch_size_size(), 1);
  EXPECT_EQ(seq.sequence_batching().oldest().preferred_batch_size(0), 4);

  inference::ModelConfig ensemble = Parse(R"(platform: "ensemble" ensemble_scheduling {})");
  ASSERT_TRUE(NormalizeModelConfig(ctx, &ensemble).ok());
  EXPECT_EQ(ensemble.instance_group_size(), 0);
  EXPECT_FALSE(ensemble.has_optimization());
}

// Triton's server-side auto-complete of backend, platform and model file name.
TEST(ModelConfigValidate, CompleteBackendFieldsFollowsTriton) {
  const fs::path dir = fs::temp_directory_path() / ("inferd_complete_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir / "3");
  auto complete = [&](const std::string& name, const std::string& text, inference::ModelConfig* c) {
    *c = Parse(text);
    return CompleteBackendFields(ConfigContext{name, dir.string(), 0}, {3}, c);
  };
  inference::ModelConfig c;
  // No file, no names: the backend comes from a model name "<x>.<backend>".
  ASSERT_TRUE(complete("model.identity", "", &c).ok());
  EXPECT_EQ(c.backend(), "identity");
  EXPECT_EQ(c.default_model_filename(), "model.identity");
  const Status st = complete("plain", "", &c);
  EXPECT_NE(st.message().find("Could not determine backend for model 'plain'"), std::string::npos) << st.message();

  std::ofstream(dir / "3" / "model.onnx") << "x";
  ASSERT_TRUE(complete("m", "", &c).ok());
  EXPECT_EQ(c.backend(), "onnxruntime");
  EXPECT_EQ(c.platform(), "onnxruntime_onnx");
  EXPECT_EQ(c.default_model_filename(), "model.onnx");
  // A named backend wins over the file; its platform and file follow it.
  ASSERT_TRUE(complete("m", R"(backend: "pytorch")", &c).ok());
  EXPECT_EQ(c.platform(), "pytorch_libtorch");
  EXPECT_EQ(c.default_model_filename(), "model.pt");
  ASSERT_TRUE(complete("m", R"(backend: "pytorch" runtime: "model.py")", &c).ok());
  EXPECT_EQ(c.default_model_filename(), "");
  ASSERT_TRUE(complete("m", R"(platform: "tensorrt_plan")", &c).ok());
  EXPECT_EQ(c.backend(), "tensorrt");
  EXPECT_EQ(c.default_model_filename(), "model.plan");
  ASSERT_TRUE(complete("m", R"(default_model_filename: "model.py")", &c).ok());
  EXPECT_EQ(c.backend(), "python");
  EXPECT_EQ(c.platform(), "");
  ASSERT_TRUE(complete("m", R"(backend: "identity")", &c).ok());  // a custom backend: left as it is
  EXPECT_EQ(c.platform(), "");
  EXPECT_EQ(c.default_model_filename(), "");
  // A folder named model.graphdef is not a GraphDef; one named model.savedmodel is a SavedModel.
  fs::remove(dir / "3" / "model.onnx");
  fs::create_directories(dir / "3" / "model.savedmodel");
  ASSERT_TRUE(complete("m", "", &c).ok());
  EXPECT_EQ(c.platform(), "tensorflow_savedmodel");
  EXPECT_EQ(c.backend(), "tensorflow");
  fs::remove_all(dir);
}

TEST(ModelConfigValidate, AcceptsValidConfigs) {
  EXPECT_TRUE(Check(R"(backend: "identity" max_batch_size: 8
      input [{ name: "I" data_type: TYPE_FP32 dims: [-1, 4] }]
      output [{ name: "O" data_type: TYPE_FP32 dims: [1, 4] reshape { shape: [4] } }])").ok());
  EXPECT_TRUE(Check(R"(backend: "identity" max_batch_size: 8
      input [{ name: "I" data_type: TYPE_INT32 dims: [1] reshape { shape: [] } }])").ok());
  // Variable dims: the pieces between -1s match ([2,4] = [8], [6] = [1,6]).
  EXPECT_TRUE(Check(R"(backend: "identity"
      input [{ name: "I" data_type: TYPE_FP32 dims: [2, 4, -1, 6] reshape { shape: [8, -1, 1, 6] } }])").ok());
  EXPECT_TRUE(Check(R"(backend: "identity" max_batch_size: 4
      dynamic_batching { preserve_ordering: true priority_levels: 1 default_priority_level: 1 })").ok());
  EXPECT_TRUE(Check(R"(backend: "identity" max_batch_size: 4 sequence_batching {
      control_input [{ name: "S" control [{ kind: CONTROL_SEQUENCE_START int32_false_true: [0, 1] },
                                          { kind: CONTROL_SEQUENCE_READY int32_false_true: [0, 1] }] }]
      state [{ input_name: "IN_STATE" output_name: "OUT_STATE" data_type: TYPE_INT32 dims: [2]
               initial_state [{ name: "init" data_type: TYPE_INT32 dims: [2] data_file: "s.bin" }] }] })").ok());
  EXPECT_TRUE(Check(R"(backend: "my_backend-2.1")").ok());
  EXPECT_TRUE(Check(R"(backend: "identity" max_batch_size: 4
      dynamic_batching { preferred_batch_size: [2, 4] priority_levels: 2 default_priority_level: 1
        priority_queue_policy { key: 2 value { timeout_action: DELAY } } })").ok());
}

TEST(ModelConfigValidate, RejectsWithReasons) {
  ExpectError(R"(name: "other" backend: "identity")", "does not match its folder name 'm'");
  ExpectError(R"(max_batch_size: 1)", "'platform' or 'backend'");
  ExpectError(R"(platform: "tensorflow_nope")", "unknown platform 'tensorflow_nope'");
  ExpectError(R"(platform: "onnxruntime_onnx" backend: "pytorch")", "runs on backend 'onnxruntime'");
  ExpectError(R"(backend: "identity" max_batch_size: -1)", "'max_batch_size' must be >= 0");
  ExpectError(R"(backend: "identity" input [{ name: "I" data_type: TYPE_FP32 dims: [0] }])",
              "each dimension must be >= 1, or -1");
  ExpectError(R"(backend: "identity" input [{ name: "I" data_type: TYPE_FP32 }])", "must specify 'dims'");
  ExpectError(R"(backend: "identity" input [{ name: "I" dims: [1] }])", "valid 'data_type'");
  ExpectError(R"(backend: "identity" input [{ name: "I" data_type: TYPE_FP32 dims: [2, 3]
                 reshape { shape: [5] } }])", "6 elements");
  ExpectError(R"(backend: "identity" input [{ name: "I" data_type: TYPE_FP32 dims: [-1, 3]
                 reshape { shape: [3] } }])", "variable-size dimension");
  // The totals divide each other, but the pieces between -1s differ.
  ExpectError(R"(backend: "identity" input [{ name: "I" data_type: TYPE_FP32 dims: [2, -1]
                 reshape { shape: [-1, 2] } }])", "between their variable-size dimensions");
  ExpectError(R"(backend: "identity" input [{ name: "I" data_type: TYPE_FP32 dims: [-1, 4]
                 reshape { shape: [-1, 2, -1] } }])", "different numbers of variable-size dimensions");
  ExpectError(R"(backend: "identity" input [{ name: "I" data_type: TYPE_FP32 dims: [1]
                 reshape { shape: [] } }])", "empty reshape");
  ExpectError(R"(backend: "identity" max_batch_size: 8 input [{ name: "I" data_type: TYPE_FP32
                 reshape { shape: [1] } }])", "must specify 'dims'");
  ExpectError(R"(backend: "identity" input [{ name: "I" data_type: TYPE_FP32 dims: [1]
                 is_non_linear_format_io: true }])", "is_non_linear_format_io");
  ExpectError(R"(backend: "identity" output [{ name: "O" data_type: TYPE_FP32 dims: [1]
                 is_shape_tensor: true }])", "shape tensor");
  ExpectError(R"(backend: "identity" input [{ name: "I" data_type: TYPE_FP32
                 dims: [4294967296, 4294967296] reshape { shape: [1] } }])", "does not fit in 64 bits");
  // A backend name becomes a library path: no path may be smuggled in.
  ExpectError(R"(backend: "/../../tmp/x")", "not a path");
  ExpectError(R"(backend: "a/b")", "not a path");
  ExpectError(R"(backend: "..")", "not a path");
  ExpectError(R"(backend: "x y")", "not a path");
  ExpectError(R"(backend: "identity" input [{ name: "I" data_type: TYPE_FP32 dims: [1] },
                 { name: "I" data_type: TYPE_FP32 dims: [1] }])", "more than once");
  ExpectError(R"(backend: "identity" output [{ name: "O" data_type: TYPE_FP32 dims: [3]
                 label_filename: "missing_labels.txt" }])", "missing_labels.txt");
  ExpectError(R"(backend: "identity" runtime: "../../evil.so")", "'runtime'");
  ExpectError(R"(backend: "identity" runtime: "/usr/lib/evil.so")", "'runtime'");
  ExpectError(R"(backend: "identity" instance_group [{ kind: KIND_GPU }])", "no GPU");
  ExpectError(R"(backend: "identity" instance_group [{ kind: KIND_CPU gpus: [0] }])", "not KIND_GPU");
  ExpectError(R"(backend: "identity" max_batch_size: 4 dynamic_batching { preferred_batch_size: [8] })",
              "preferred_batch_size 8");
  ExpectError(R"(backend: "identity" dynamic_batching { })", "requires max_batch_size > 0");
  ExpectError(R"(backend: "identity" max_batch_size: 4 dynamic_batching { priority_levels: 2
                 default_priority_level: 3 })", "default_priority_level 3");
  ExpectError(R"(backend: "identity" max_batch_size: 4 dynamic_batching { priority_levels: 2
                 default_priority_level: 1 priority_queue_policy { key: 5 value { } } })",
              "priority_queue_policy level 5");
  ExpectError(R"(backend: "identity" max_batch_size: 4 dynamic_batching { default_priority_level: 1 })",
              "requires priority_levels");
  ExpectError(R"(backend: "identity" max_batch_size: 4 sequence_batching { control_input [{
                 name: "START" control [{ kind: CONTROL_SEQUENCE_START }] }] })",
              "exactly one of 'int32_false_true'");
  ExpectError(R"(backend: "identity" max_batch_size: 4 sequence_batching { control_input [{
                 name: "CORRID" control [{ kind: CONTROL_SEQUENCE_CORRID data_type: TYPE_FP32 }] }] })",
              "CONTROL_SEQUENCE_CORRID needs 'data_type'");
  ExpectError(R"(backend: "identity" max_batch_size: 4
                 input [{ name: "I" data_type: TYPE_FP32 dims: [1] }]
                 batch_input [{ kind: BATCH_ELEMENT_COUNT target_name: "N" data_type: TYPE_INT32
                                source_input: "NOPE" }])", "source_input 'NOPE'");
  ExpectError(R"(backend: "identity" batch_input [{ kind: BATCH_ELEMENT_COUNT target_name: "N"
                 data_type: TYPE_INT32 source_input: "I" }])", "require max_batch_size > 0");
  ExpectError(R"(backend: "identity" version_policy { latest { num_versions: 0 } })", "num_versions");
  ExpectError(R"(backend: "identity" ensemble_scheduling { })", "requires platform 'ensemble'");
  ExpectError(R"(backend: "identity" max_batch_size: 4
                 sequence_batching { direct { minimum_slot_utilization: 1.5 } })", "minimum_slot_utilization");
  ExpectError(R"(backend: "identity" max_batch_size: 4
                 sequence_batching { oldest { max_candidate_sequences: 4 preferred_batch_size: [8] } })",
              "oldest preferred_batch_size 8 must be between 1 and max_batch_size 4");
  // preserve_ordering: one priority level, no DELAY policy.
  ExpectError(R"(backend: "identity" max_batch_size: 4 dynamic_batching { preserve_ordering: true
                 priority_levels: 2 default_priority_level: 1 })", "only one priority level");
  ExpectError(R"(backend: "identity" max_batch_size: 4 dynamic_batching { preserve_ordering: true
                 default_queue_policy { timeout_action: DELAY default_timeout_microseconds: 100 } })",
              "DELAY");
  // Two controls of one kind, on two tensors or on one.
  ExpectError(R"(backend: "identity" max_batch_size: 4 sequence_batching { control_input [
                 { name: "A" control [{ kind: CONTROL_SEQUENCE_START int32_false_true: [0, 1] }] },
                 { name: "B" control [{ kind: CONTROL_SEQUENCE_START fp32_false_true: [0, 1] }] }] })",
              "more than one CONTROL_SEQUENCE_START");
  ExpectError(R"(backend: "identity" max_batch_size: 4 sequence_batching { control_input [
                 { name: "A" control [{ kind: CONTROL_SEQUENCE_END int32_false_true: [0, 1] },
                                      { kind: CONTROL_SEQUENCE_END int32_false_true: [0, 1] }] }] })",
              "more than one CONTROL_SEQUENCE_END");
  ExpectError(R"(backend: "identity" max_batch_size: 4 sequence_batching { }
                 response_cache { enable: true })", "response_cache");
  // Implicit state: its initial_state must match it and stay inside the model folder.
  const std::string state = R"(backend: "identity" max_batch_size: 4 sequence_batching { state [{
      input_name: "IN" output_name: "OUT" data_type: TYPE_INT32 dims: [2] )";
  ExpectError(state + R"(initial_state [{ name: "i" data_type: TYPE_FP32 dims: [2] zero_data: true }] }] })",
              "initial_state has data_type TYPE_FP32");
  ExpectError(state + R"(initial_state [{ data_type: TYPE_INT32 dims: [2] zero_data: true }] }] })",
              "must have a 'name'");
  ExpectError(state + R"(initial_state [{ name: "i" data_type: TYPE_INT32 dims: [3] zero_data: true }] }] })",
              "do not match the state's dims");
  ExpectError(state + R"(initial_state [{ name: "i" data_type: TYPE_INT32 dims: [2] }] }] })",
              "'zero_data' or 'data_file'");
  ExpectError(state + R"(initial_state [{ name: "i" data_type: TYPE_INT32 dims: [2]
                                          data_file: "../../../etc/passwd" }] }] })", "no '..'");
  ExpectError(state + R"(initial_state [{ name: "i" data_type: TYPE_INT32 dims: [2]
                                          data_file: "/dev/zero" }] }] })", "no absolute path");
  ExpectError(state + R"(}, { input_name: "IN" output_name: "OUT2" data_type: TYPE_INT32 dims: [2] }] })",
              "more than once");
  ExpectError(R"(backend: "identity" instance_group [{ kind: KIND_CPU profile: ["0"] }])", "TensorRT");
  // What one config may make the server allocate is bounded.
  ExpectError(R"(backend: "identity" max_batch_size: 4 dynamic_batching { priority_levels: 4000000000
                 default_priority_level: 1 })", "priority_levels 4000000000 is more than");
  ExpectError(R"(backend: "identity" instance_group [{ count: 2000000000 kind: KIND_CPU }])",
              "more than 256 instances");
}

TEST(ModelConfigValidate, UnbuiltFeaturesAreNamed) {
  auto unbuilt = [](const std::string& text) {
    return RejectUnbuiltFeatures(Parse("name: \"m\" " + text)).message();
  };
  EXPECT_NE(unbuilt("sequence_batching { iterative_sequence: true }").find("iterative_sequence"), std::string::npos);
  // The strategies' knobs are built.
  EXPECT_TRUE(RejectUnbuiltFeatures(Parse("name: \"m\" sequence_batching { oldest { max_queue_delay_microseconds: 5 "
                                          "preferred_batch_size: [2] preserve_ordering: true } }")).ok());
  EXPECT_TRUE(RejectUnbuiltFeatures(Parse("name: \"m\" sequence_batching { direct { max_queue_delay_microseconds: 5 "
                                          "minimum_slot_utilization: 0.5 } }")).ok());
  EXPECT_NE(unbuilt("batch_input [ { kind: BATCH_ELEMENT_COUNT target_name: \"C\" data_type: TYPE_INT32 "
                    "source_input: \"I\" } ]").find("batch_input"), std::string::npos);
  // Decoupled models are built; only with the response cache are they refused.
  EXPECT_TRUE(RejectUnbuiltFeatures(Parse("name: \"m\" model_transaction_policy { decoupled: true }")).ok());
  EXPECT_NE(unbuilt("model_transaction_policy { decoupled: true } response_cache { enable: true }").find("decoupled"),
            std::string::npos);
  EXPECT_TRUE(RejectUnbuiltFeatures(Parse("name: \"m\" dynamic_batching { max_queue_delay_microseconds: 5 }")).ok());
  // A custom batching strategy is a library named by the config: never loaded.
  EXPECT_NE(unbuilt("parameters { key: \"TRITON_BATCH_STRATEGY_PATH\" value { string_value: \"/tmp/x.so\" } }")
                .find("TRITON_BATCH_STRATEGY_PATH"),
            std::string::npos);
}

}  // namespace
}  // namespace inferd
