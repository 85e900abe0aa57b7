// One client connection of the HTTP/2 gRPC transport: an nghttp2 server
// session fed with the bytes read from the socket, its output written back,
// and the calls of its streams. Everything runs on the connection's strand,
// except the entry points that say "any thread".
#pragma once

#include <nghttp2/nghttp2.h>

#include <array>
#include <utility>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/server.h"
#include "frontend/grpc/rpc_handlers.h"
#include "frontend/grpc_h2/h2_call.h"
#include "frontend/grpc_h2/h2_grpc_server.h"

namespace inferd::grpc_h2 {

using ConnectionStrand = boost::asio::strand<boost::asio::io_context::executor_type>;
using ConnectionSocket = boost::asio::basic_stream_socket<boost::asio::ip::tcp, ConnectionStrand>;
using TlsStream = boost::asio::ssl::stream<ConnectionSocket>;

// What the connections of one server share.
struct H2Context {
  Server* core;
  H2GrpcOptions options;
  grpc_frontend::RpcHandlers handlers;
  uint64_t connection_budget_bytes;  // request bytes one connection may hold
  std::atomic<int64_t> calls_in_flight{0};  // ModelInfer calls and streams not yet answered
  std::unique_ptr<boost::asio::ssl::context> tls{};  // null: plaintext (h2c)
};

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(ConnectionSocket socket, H2Context* context);
  ~Connection();

  // Starts the session (after the TLS handshake, with TLS): our SETTINGS,
  // then reading.
  void Start();
  // Closes the socket (any thread); the calls it has in the core are cancelled.
  void Close();
  // GOAWAY (any thread): no new calls; the open ones are finished.
  void GoAway();
  ConnectionStrand executor() { return strand_; }

 private:
  // nghttp2's callbacks (inside mem_recv / mem_send).
  static int OnBeginHeaders(nghttp2_session*, const nghttp2_frame* frame, void* user_data);
  static int OnHeader(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name, size_t namelen,
                      const uint8_t* value, size_t valuelen, uint8_t flags, void* user_data);
  static int OnDataChunk(nghttp2_session*, uint8_t flags, int32_t stream_id, const uint8_t* data, size_t len,
                         void* user_data);
  static int OnFrameRecv(nghttp2_session*, const nghttp2_frame* frame, void* user_data);
  static int OnFrameSend(nghttp2_session*, const nghttp2_frame* frame, void* user_data);
  static int OnStreamClose(nghttp2_session*, int32_t stream_id, uint32_t http2_error, void* user_data);
  static ssize_t ReadOut(nghttp2_session* session, int32_t stream_id, uint8_t* buf, size_t length,
                         uint32_t* data_flags, nghttp2_data_source* source, void* user_data);

  // Reading calls.
  Call* Find(int32_t stream_id);
  void ReadHeader(Call& call, std::string_view name, std::string_view value);
  void ReadBody(Call& call, std::string_view data);
  void Queue(Call& call);  // to run once this read is parsed
  void Run(const std::shared_ptr<Call>& call);
  bool Check(Call& call);  // the headers make a call we serve; finishes it otherwise
  bool TakePayload(Call& call, std::string_view framed, std::string* inflated, std::string_view* payload);
  void StartDeadline(const std::shared_ptr<Call>& call);
  void StartInfer(const std::shared_ptr<Call>& call, std::string_view payload);
  void PumpStream(const std::shared_ptr<Call>& call);
  void StartStreamRequest(const std::shared_ptr<Call>& call, std::string_view payload, uint64_t bytes);

  // Answering (the strand).
  // The answer of a unary call or ModelInfer, from any thread, once:
  // `message` is the framed response (empty: none), `status` the call's.
  void Respond(std::shared_ptr<Call> call, std::string message, grpc::Status status);
  // One ModelStreamInfer response, from any thread; sent in the order of
  // these calls.
  void RespondOnStream(const std::shared_ptr<Call>& call, Call::StreamAnswer answer);
  void DrainStream(const std::shared_ptr<Call>& call);
  void Send(Call& call, std::string framed);  // taken whole when nothing else waits
  void Finish(Call& call, grpc::Status status);
  void Refuse(Call& call, grpc::Status status);  // a call that is not served
  void StartOrResume(Call& call);
  void Release(Call& call);
  void EndCall(Call& call, uint32_t http2_error);

  // Socket I/O.
  void StartSession();
  void KeepAlive();     // the next PING, after keepalive_time_ms
  void AgeOut(bool grace_passed);  // GOAWAY at the age, close after the grace
  ConnectionSocket& Lowest() { return tls_ ? tls_->next_layer() : socket_; }
  void Read();
  void OnRead(const boost::system::error_code& ec, size_t n);
  void Flush();  // what nghttp2 has to send, to the socket
  void OnWrite(const boost::system::error_code& ec);
  void CloseNow();

  ConnectionStrand strand_;  // the socket's: every handler of the connection runs on it
  ConnectionSocket socket_;  // moved into tls_ with TLS
  std::unique_ptr<TlsStream> tls_;
  H2Context* context_;
  boost::asio::steady_timer preface_timer_;
  boost::asio::steady_timer keepalive_timer_;  // our PINGs
  boost::asio::steady_timer age_timer_;        // --grpc-max-connection-age
  bool ping_unanswered_ = false;
  nghttp2_session* session_ = nullptr;
  std::array<uint8_t, 16384> in_;
  std::string pending_;  // produced while a write is in flight
  std::string writing_;  // being written
  bool write_in_flight_ = false;
  bool reading_ = false;
  bool read_paused_ = false;  // too much waits to be written: the client is not reading
  bool in_recv_ = false;      // inside nghttp2_session_mem_recv: Flush waits until it returns
  bool close_after_write_ = false;
  bool closed_ = false;
  bool preface_seen_ = false;
  uint64_t buffered_bytes_ = 0;  // request bytes charged by the open calls
  std::unordered_map<int32_t, std::shared_ptr<Call>> calls_;  // open streams
  std::vector<std::shared_ptr<Call>> ready_;  // calls with something to run after this read
  std::vector<std::weak_ptr<Call>> paused_;   // streams waiting for their answers to drain
};

}  // namespace inferd::grpc_h2
