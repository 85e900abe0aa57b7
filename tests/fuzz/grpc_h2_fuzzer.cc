// inferd's HTTP/2 gRPC transport as a client drives it, over loopback: each
// input is what one client sends on a fresh connection after the HTTP/2
// preface (SETTINGS, HEADERS with HPACK, DATA carrying gRPC messages, PING,
// RST_STREAM, WINDOW_UPDATE, GOAWAY, CONTINUATION, ...), then the client
// closes its side and reads whatever comes back. The server (a real one, with
// an empty repository: every RPC's parsing and errors, streams, reflection)
// must close the connection by itself once the client is done, and live on;
// ASan and UBSan catch the rest.
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "core/server.h"
#include "frontend/grpc_h2/h2_grpc_server.h"

using namespace inferd;

namespace {

uint16_t ServerPort() {
  static const uint16_t port = [] {
    char dir[] = "/tmp/inferd_fuzz_h2_XXXXXX";
    if (!mkdtemp(dir)) __builtin_trap();
    ServerOptions options;
    options.repositories = {dir};
    auto* core = new Server(options);  // lives as long as the process
    if (!core->Start().ok()) __builtin_trap();
    grpc_h2::H2GrpcOptions h2;
    h2.address = "127.0.0.1";
    h2.port = 0;
    h2.thread_count = 2;
    h2.max_message_size = 1 << 20;
    auto* server = new grpc_h2::H2GrpcServer(core, h2);
    if (!server->Start().ok()) __builtin_trap();
    return server->port();
  }();
  return port;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const uint16_t port = ServerPort();
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int fd = -1;
  for (int attempt = 0; fd < 0; ++attempt) {
    if (attempt == 200) __builtin_trap();  // 2 s: the server stopped accepting
    fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return 0;
    if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      close(fd);  // (ephemeral ports may run short for a moment)
      fd = -1;
      usleep(10000);
    }
  }
  // Closed with a reset at the end: thousands of connections a second would
  // otherwise leave the loopback's ports in TIME_WAIT until none is left.
  const linger reset{1, 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
  static const char kPreface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
  std::string bytes(kPreface, sizeof kPreface - 1);
  bytes.append(reinterpret_cast<const char*>(data), size);
  // The server may close early (a protocol error): what is not sent is not.
  size_t sent = 0;
  while (sent < bytes.size()) {
    const ssize_t n = send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;
    sent += static_cast<size_t>(n);
  }
  shutdown(fd, SHUT_WR);
  // The client is done: the server must close the connection (within 5 s).
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  char buf[65536];
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) __builtin_trap();  // the server kept a finished connection open
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
    const ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
  }
  close(fd);
  return 0;
}
