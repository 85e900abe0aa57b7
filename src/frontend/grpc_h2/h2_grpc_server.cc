#include "frontend/grpc_h2/h2_grpc_server.h"


#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <vector>

#include "common/logging.h"
#include "core/inline_execution.h"
#include "frontend/grpc_h2/h2_connection.h"
#include "frontend/event_loops.h"
#include "frontend/tcp_listen.h"

namespace inferd::grpc_h2 {
namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;

namespace {

// ALPN: the server speaks "h2" only (gRPC clients always offer it).
int SelectH2(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in, unsigned int inlen,
             void*) {
  static const unsigned char kH2[] = {2, 'h', '2'};
  unsigned char* selected = nullptr;
  if (SSL_select_next_proto(&selected, outlen, kH2, sizeof kH2, in, inlen) != OPENSSL_NPN_NEGOTIATED) {
    return SSL_TLSEXT_ERR_ALERT_FATAL;
  }
  *out = selected;
  return SSL_TLSEXT_ERR_OK;
}

// The TLS context of --grpc-use-ssl: TLS 1.2 or later, the server's
// certificate and key, and for mutual TLS the CA that client certificates
// must chain to.
Status MakeTlsContext(const H2GrpcOptions& o, std::unique_ptr<asio::ssl::context>* out) {
  auto ctx = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_server);
  error_code ec;
  ctx->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                       asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                       asio::ssl::context::no_tlsv1_1 | asio::ssl::context::single_dh_use,
                   ec);
  ctx->use_certificate_chain(asio::buffer(o.server_cert_pem), ec);
  if (ec) return Status::InvalidArg("--grpc-server-cert: not a usable PEM certificate: " + ec.message());
  ctx->use_private_key(asio::buffer(o.server_key_pem), asio::ssl::context::pem, ec);
  if (ec) return Status::InvalidArg("--grpc-server-key: not a usable PEM key: " + ec.message());
  if (!o.root_cert_pem.empty()) {
    ctx->add_certificate_authority(asio::buffer(o.root_cert_pem), ec);
    if (ec) return Status::InvalidArg("--grpc-root-cert: not a usable PEM certificate: " + ec.message());
  }
  if (o.mutual) ctx->set_verify_mode(asio::ssl::verify_peer | asio::ssl::verify_fail_if_no_peer_cert, ec);
  SSL_CTX_set_alpn_select_cb(ctx->native_handle(), &SelectH2, nullptr);
  *out = std::move(ctx);
  return Status::Ok();
}

uint64_t ConnectionBudget(int max_message_size) {
  const uint64_t max = static_cast<uint64_t>(std::max(max_message_size, 0));
  return std::max<uint64_t>(4 * max, 256ull << 20);
}

}  // namespace

struct H2GrpcServer::Impl {
  Impl(Server* core, H2GrpcOptions options)
      : context{core, options, grpc_frontend::RpcHandlers(core, options.restricted),
                ConnectionBudget(options.max_message_size)},
        loops(MakeEventLoops(IoThreadCount(options.thread_count))),
        acceptor(asio::make_strand(*loops[0])), accept_backoff(acceptor.get_executor()) {}

  void Accept();

  H2Context context;
  std::vector<std::unique_ptr<asio::io_context>> loops;  // one per I/O thread (frontend/event_loops.h)
  size_t next_loop = 0;  // on the acceptor's strand: connections go round the loops
  // Keep the I/O threads running while every call waits for the core.
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> work;
  tcp::acceptor acceptor;  // on a strand of loop 0
  asio::steady_timer accept_backoff;
  LogThrottle accept_log{std::chrono::seconds(10)};
  std::vector<std::thread> threads;
  std::unique_ptr<InlineExecutionBudget> inline_budget;
  std::mutex connections_mu;
  std::set<std::weak_ptr<Connection>, std::owner_less<std::weak_ptr<Connection>>> connections;  // guarded
};

void H2GrpcServer::Impl::Accept() {
  asio::io_context& loop = *loops[next_loop++ % loops.size()];
  acceptor.async_accept(asio::make_strand(loop), [this](const error_code& ec, ConnectionSocket socket) {
    if (!acceptor.is_open() || ec == asio::error::operation_aborted) return;
    if (ec) {
      uint64_t suppressed = 0;
      if (accept_log.Allow(&suppressed)) {
        LOG_WARNING("GRPCInferenceService accept: {}{}", ec.message(),
                    suppressed ? " (" + std::to_string(suppressed) + " more since the last report)" : "");
      }
      if (IsResourceShortage(ec)) {
        accept_backoff.expires_after(std::chrono::milliseconds(100));
        accept_backoff.async_wait([this](const error_code& wait_ec) {
          if (!wait_ec) Accept();  // cancelled: Stop closed the acceptor
        });
        return;
      }
    } else {
      error_code ignored;
      socket.set_option(tcp::no_delay(true), ignored);
      auto connection = std::make_shared<Connection>(std::move(socket), &context);
      {
        std::lock_guard<std::mutex> lock(connections_mu);
        std::erase_if(connections, [](const std::weak_ptr<Connection>& c) { return c.expired(); });
        connections.insert(connection);
      }
      asio::dispatch(connection->executor(), [connection] { connection->Start(); });
    }
    Accept();
  });
}

H2GrpcServer::H2GrpcServer(Server* core, H2GrpcOptions options)
    : impl_(std::make_unique<Impl>(core, std::move(options))) {}

H2GrpcServer::~H2GrpcServer() { Stop(std::chrono::milliseconds(0)); }

Status H2GrpcServer::Start() {
  const auto& o = impl_->context.options;
  if (o.use_tls) INFERD_RETURN_IF_ERROR(MakeTlsContext(o, &impl_->context.tls));
  auto& acceptor = impl_->acceptor;
  INFERD_RETURN_IF_ERROR(ListenOn(acceptor, o.address, o.port, o.reuse_port, "gRPC"));
  bound_port_ = acceptor.local_endpoint().port();
  for (auto& loop : impl_->loops) impl_->work.push_back(asio::make_work_guard(*loop));
  impl_->Accept();
  const int threads = static_cast<int>(impl_->loops.size());
  // A quick model with an idle instance may run on the I/O thread that read
  // its request (core/inline_execution.h).
  impl_->inline_budget = std::make_unique<InlineExecutionBudget>(threads);
  for (int i = 0; i < threads; ++i) {
    impl_->threads.emplace_back(
        [this, loop = impl_->loops[i].get()] { RunIoThread(*loop, "grpc-io", impl_->inline_budget.get()); });
  }
  LOG_INFO("Started GRPCInferenceService at {}:{} (HTTP/2 on nghttp2, {} threads{})", o.address, bound_port_,
           threads, o.use_tls ? (o.mutual ? ", mutual TLS" : ", TLS") : "");
  return Status::Ok();
}

void H2GrpcServer::Stop(std::chrono::milliseconds drain) {
  if (impl_->threads.empty()) return;
  asio::post(impl_->acceptor.get_executor(), [impl = impl_.get()] {
    error_code ignored;
    impl->acceptor.close(ignored);
    impl->accept_backoff.cancel();
  });
  std::vector<std::shared_ptr<Connection>> open;
  {
    std::lock_guard<std::mutex> lock(impl_->connections_mu);
    for (const auto& weak : impl_->connections)
      if (auto c = weak.lock()) open.push_back(std::move(c));
  }
  for (auto& c : open) c->GoAway();
  const auto deadline = std::chrono::steady_clock::now() + drain;
  while (impl_->context.calls_in_flight.load() > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  for (auto& c : open) c->Close();
  open.clear();
  impl_->work.clear();
  for (auto& loop : impl_->loops) loop->stop();
  for (auto& t : impl_->threads) t.join();
  impl_->threads.clear();
}

}  // namespace inferd::grpc_h2
