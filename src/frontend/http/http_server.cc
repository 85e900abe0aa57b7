#include "frontend/http/http_server.h"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <mutex>
#include <optional>
#include <set>

#include "common/logging.h"
#include "frontend/http/http_api.h"

namespace inferd::http {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace beast_http = boost::beast::http;
using tcp = asio::ip::tcp;

class Session;

struct HttpServer::Impl {
  Impl(HttpHandler h, HttpOptions opts)
      : options(std::move(opts)), handler(std::move(h)), acceptor(asio::make_strand(ioc)) {}

  void Accept();

  HttpOptions options;
  HttpHandler handler;
  asio::io_context ioc;
  // Keeps the I/O threads running while a request waits for the core (no
  // socket operation is pending then); released once everything is written.
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
  // On a strand of its own: its completion handlers and StopAccepting's close
  // run one at a time, whichever I/O threads run them.
  tcp::acceptor acceptor;
  std::vector<std::thread> threads;
  // Requests read whose response is not yet written.
  std::atomic<int64_t> in_flight{0};
  std::mutex sessions_mu;
  std::set<std::weak_ptr<Session>, std::owner_less<std::weak_ptr<Session>>> sessions;  // guarded
};

// One connection: read a request, answer it, repeat while keep-alive.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, HttpServer::Impl* server)
      : stream_(std::move(socket)), server_(server) {}

  void Start() { Read(); }

  // Closes the socket from the session's own executor.
  void Close() {
    asio::post(stream_.get_executor(), [self = shared_from_this()] {
      beast::error_code ec;
      self->stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
      self->stream_.close();
    });
  }

 private:
  void Read() {
    parser_.emplace();
    parser_->body_limit(server_->options.max_input_size);
    parser_->header_limit(64 * 1024);
    beast_http::async_read(stream_, buffer_, *parser_,
                           [self = shared_from_this()](beast::error_code ec, size_t) {
                             self->OnRead(ec);
                           });
  }

  void OnRead(beast::error_code ec) {
    if (ec == beast_http::error::end_of_stream || ec == asio::error::operation_aborted) {
      return Shutdown();
    }
    if (ec == beast_http::error::body_limit) {
      // The body was not read whole: answer and close the connection.
      server_->in_flight++;
      close_after_write_ = true;
      return Write(HttpApi::Error(
          Status::ResourceExhausted("request body exceeds the limit of " +
                                    std::to_string(server_->options.max_input_size) +
                                    " bytes (--http-max-input-size)"),
          11, false));
    }
    if (ec) {
      if (ec != asio::error::connection_reset && ec != asio::error::eof) {
        LOG_VERBOSE("http read: {}", ec.message());
      }
      return Shutdown();
    }
    server_->in_flight++;
    HttpRequest request = parser_->release();
    close_after_write_ = !request.keep_alive();
    server_->handler(std::move(request), [self = shared_from_this()](HttpResponse response) {
      // May run on an instance thread: hop to the connection's executor.
      asio::post(self->stream_.get_executor(),
                 [self, response = std::move(response)]() mutable { self->Write(std::move(response)); });
    });
  }

  void Write(HttpResponse response) {
    auto res = std::make_shared<HttpResponse>(std::move(response));
    if (close_after_write_) res->keep_alive(false);
    beast_http::async_write(stream_, *res,
                            [self = shared_from_this(), res](beast::error_code ec, size_t) {
                              self->server_->in_flight--;
                              if (ec || !res->keep_alive()) return self->Shutdown();
                              self->Read();
                            });
  }

  void Shutdown() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
  }

  beast::tcp_stream stream_;
  HttpServer::Impl* server_;
  beast::flat_buffer buffer_;
  std::optional<beast_http::request_parser<beast_http::string_body>> parser_;
  bool close_after_write_ = false;
};

void HttpServer::Impl::Accept() {
  acceptor.async_accept(asio::make_strand(ioc), [this](beast::error_code ec, tcp::socket socket) {
    if (!acceptor.is_open()) return;  // StopAccepting() closed it
    if (ec) {
      if (ec != asio::error::operation_aborted) LOG_WARNING("http accept: {}", ec.message());
    } else {
      socket.set_option(tcp::no_delay(true), ec);
      auto session = std::make_shared<Session>(std::move(socket), this);
      {
        std::lock_guard<std::mutex> lock(sessions_mu);
        for (auto it = sessions.begin(); it != sessions.end();) {
          it = it->expired() ? sessions.erase(it) : std::next(it);
        }
        sessions.insert(session);
      }
      session->Start();
    }
    Accept();
  });
}

HttpServer::HttpServer(HttpHandler handler, HttpOptions options)
    : impl_(std::make_unique<Impl>(std::move(handler), std::move(options))) {}

HttpServer::~HttpServer() { Stop(std::chrono::milliseconds(0)); }

Status HttpServer::Start() {
  auto& o = impl_->options;
  beast::error_code ec;
  auto address = asio::ip::make_address(o.address, ec);
  if (ec) return Status::InvalidArg("invalid address '" + o.address + "': " + ec.message());
  tcp::endpoint endpoint(address, o.port);
  auto& acceptor = impl_->acceptor;
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return Status::Unavailable("cannot listen for " + o.service_name + " on " + o.address + ":" +
                               std::to_string(o.port) + ": " + ec.message());
  }
  bound_port_ = acceptor.local_endpoint().port();
  impl_->work.emplace(impl_->ioc.get_executor());
  impl_->Accept();
  int threads = o.thread_count > 0 ? o.thread_count
                                   : std::max(2, static_cast<int>(std::thread::hardware_concurrency()));
  for (int i = 0; i < threads; ++i) impl_->threads.emplace_back([this] { impl_->ioc.run(); });
  LOG_INFO("Started {} at {}:{} ({} threads)", o.service_name, o.address, bound_port_, threads);
  return Status::Ok();
}

void HttpServer::StopAccepting() {
  asio::post(impl_->acceptor.get_executor(), [impl = impl_.get()] {
    beast::error_code ec;
    impl->acceptor.close(ec);
  });
}

void HttpServer::Stop(std::chrono::milliseconds drain) {
  if (impl_->threads.empty()) return;
  StopAccepting();
  const auto deadline = std::chrono::steady_clock::now() + drain;
  while (impl_->in_flight.load() > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  {
    std::lock_guard<std::mutex> lock(impl_->sessions_mu);
    for (const auto& weak : impl_->sessions)
      if (auto s = weak.lock()) s->Close();
  }
  impl_->work.reset();
  impl_->ioc.stop();
  for (auto& t : impl_->threads) t.join();
  impl_->threads.clear();
}

}  // namespace inferd::http
