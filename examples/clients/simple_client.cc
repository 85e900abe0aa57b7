// A C++ client on inferd's client library: sends four numbers to the
// simple_identity model over HTTP or gRPC and prints what comes back.
//   build/release/inferd-simple-client [-i http|grpc] [-u host:port] [-m model]
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "client/infer_client.h"

int main(int argc, char** argv) {
  std::string protocol = "http", url, model = "simple_identity";
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "-i")) protocol = argv[i + 1];
    else if (!std::strcmp(argv[i], "-u")) url = argv[i + 1];
    else if (!std::strcmp(argv[i], "-m")) model = argv[i + 1];
  }
  if (url.empty()) url = protocol == "grpc" ? "localhost:8001" : "localhost:8000";

  using namespace inferd::client;
  std::unique_ptr<InferClient> client;
  if (protocol == "grpc") {
    std::shared_ptr<GrpcChannel> channel;
    if (auto st = MakeGrpcChannel(url, {}, &channel); !st.ok()) return std::fprintf(stderr, "%s\n", st.message().c_str()), 1;
    client = MakeGrpcClient(channel, {});
  } else {
    client = MakeHttpClient(url, {});
  }

  const std::vector<float> values = {1.5f, -2.0f, 3.25f, 4.0f};
  InferRequest request;
  request.model = model;
  InputTensor& input = request.inputs.emplace_back();
  input.name = "INPUT0";
  input.datatype = "FP32";
  input.shape = {1, static_cast<int64_t>(values.size())};
  input.data.assign(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(float));

  std::vector<OutputTensor> outputs;
  inferd::Status st = client->Prepare(request);
  if (st.ok()) st = client->Infer(nullptr, &outputs);
  if (!st.ok()) {
    std::fprintf(stderr, "inference failed: %s\n", st.message().c_str());
    return 1;
  }
  for (const auto& out : outputs) {
    std::vector<float> got(out.data.size() / sizeof(float));
    std::memcpy(got.data(), out.data.data(), got.size() * sizeof(float));
    std::printf("%s:", out.name.c_str());
    for (float v : got) std::printf(" %g", v);
    std::printf("\n");
  }
  return 0;
}
