#include "frontend/http/http_server.h"


#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <mutex>
#include <optional>
#include <set>

#include "common/logging.h"
#include "core/inline_execution.h"
#include "frontend/http/http_api.h"
#include "frontend/http/infer_codec.h"
#include "frontend/event_loops.h"
#include "frontend/tcp_listen.h"

namespace inferd::http {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace beast_http = boost::beast::http;
using tcp = asio::ip::tcp;

class Session;

// A connection's socket runs its handlers on a strand of its own, named here by
// its concrete type. Behind asio's type-erased any_io_executor (what
// beast::tcp_stream and a plain tcp::socket carry) every operation's work guard
// and handler dispatch copied the strand into a fresh heap block: 13
// allocations per request (counted by tests/integration/test_allocations.py).
using ConnectionStrand = asio::strand<asio::io_context::executor_type>;
using ConnectionSocket = asio::basic_stream_socket<tcp, ConnectionStrand>;

int64_t SteadyNowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

constexpr auto kAcceptBackoff = std::chrono::milliseconds(100);
constexpr auto kSweepInterval = std::chrono::milliseconds(500);

struct HttpServer::Impl {
  Impl(HttpHandler h, HttpOptions opts)
      : options(std::move(opts)), handler(std::move(h)), loops(MakeEventLoops(IoThreadCount(options.thread_count))),
        acceptor(asio::make_strand(*loops[0])), accept_backoff(acceptor.get_executor()),
        sweeper(asio::make_strand(*loops[0])) {}

  void Accept();
  // Every kSweepInterval: closes the connections whose deadline passed.
  void Sweep();

  HttpOptions options;
  HttpHandler handler;
  std::vector<std::unique_ptr<asio::io_context>> loops;  // one per I/O thread (frontend/event_loops.h)
  size_t next_loop = 0;  // on the acceptor's strand: connections go round the loops
  // Keep the I/O threads running while a request waits for the core (no
  // socket operation is pending then); released once everything is written.
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> work;
  // On a strand of its own: its completion handlers and StopAccepting's close
  // run one at a time, whichever I/O threads run them.
  tcp::acceptor acceptor;
  asio::steady_timer accept_backoff;  // on the acceptor's strand
  asio::steady_timer sweeper;
  LogThrottle accept_log{std::chrono::seconds(10)};
  std::vector<std::thread> threads;
  // Requests read whose response is not yet written.
  std::atomic<int64_t> in_flight{0};
  // How many I/O threads may run a model's execution at once (all but one).
  std::unique_ptr<InlineExecutionBudget> inline_budget;
  std::mutex sessions_mu;
  std::set<std::weak_ptr<Session>, std::owner_less<std::weak_ptr<Session>>> sessions;  // guarded
};

// One connection: read a request, answer it, repeat while keep-alive.
//
// Deadlines: the session keeps one deadline for what it waits on (the next
// request, the rest of a header or body, the client taking an answer); the
// server's sweeper closes it once that passes. Setting it is a clock read,
// not a timer operation, so the request path pays nothing for it.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(ConnectionSocket socket, HttpServer::Impl* server)
      : socket_(std::move(socket)), server_(server) {}

  void Start() { Read(); }

  // Closes the socket from the session's own executor.
  void Close() {
    asio::post(socket_.get_executor(), [self = shared_from_this()] {
      beast::error_code ec;
      self->socket_.shutdown(tcp::socket::shutdown_both, ec);
      self->socket_.close(ec);
    });
  }

  // True once the current deadline passed (any thread).
  bool Expired(int64_t now_ns) const {
    const int64_t deadline = deadline_ns_.load(std::memory_order_relaxed);
    return deadline != 0 && now_ns > deadline;
  }

 private:
  enum class Phase { kIdle, kHeader, kBody };

  void SetDeadline(int seconds) {
    deadline_ns_.store(seconds > 0 ? SteadyNowNs() + int64_t{seconds} * 1000000000 : 0,
                       std::memory_order_relaxed);
  }

  void Read() {
    parser_.emplace();
    parser_->body_limit(server_->options.max_input_size);
    parser_->header_limit(64 * 1024);
    parser_->eager(true);  // a header and body that arrived together parse in one step
    phase_ = Phase::kIdle;
    read_start_ns_ = 0;
    SetDeadline(server_->options.idle_timeout_secs);
    ReadSome();
  }

  void ReadSome() {
    beast_http::async_read_some(socket_, buffer_, *parser_,
                                [self = shared_from_this()](beast::error_code ec, size_t) {
                                  self->OnReadSome(ec);
                                });
  }

  void OnReadSome(beast::error_code ec) {
    if (ec == beast_http::error::end_of_stream || ec == asio::error::operation_aborted) {
      return Shutdown();
    }
    if (ec == beast_http::error::body_limit) {
      // The body was not read whole: 400 with Triton's words (its clients and
      // QA tests match on them), then close.
      return AnswerMalformed(beast_http::status::bad_request,
                             "request body exceeds the maximum allowed input size of " +
                                 std::to_string(server_->options.max_input_size) +
                                 " bytes. Use --http-max-input-size to increase the limit.");
    }
    if (ec == beast_http::error::header_limit) {
      return AnswerMalformed(beast_http::status::request_header_fields_too_large,
                             "request header fields too large (the limit is 64 KiB)");
    }
    const bool refused_by_parser =
        ec && ec.category() == beast_http::make_error_code(beast_http::error::bad_method).category() &&
        ec != beast_http::error::partial_message;
    if (refused_by_parser) {
      // A bad request line, header or chunk, or both Transfer-Encoding and
      // Content-Length: answer 400 saying why, then close, since the rest of
      // the stream cannot be trusted.
      LOG_VERBOSE("http read: {}", ec.message());
      return AnswerMalformed(beast_http::status::bad_request, "malformed HTTP request: " + ec.message());
    }
    if (ec) {
      if (ec != asio::error::connection_reset && ec != asio::error::eof) {
        LOG_VERBOSE("http read: {}", ec.message());
      }
      return Shutdown();
    }
    if (read_start_ns_ == 0) read_start_ns_ = static_cast<uint64_t>(SteadyNowNs());
    if (!parser_->is_done()) {
      if (!parser_->is_header_done()) {
        if (phase_ == Phase::kIdle) {
          phase_ = Phase::kHeader;
          SetDeadline(server_->options.header_timeout_secs);
        }
      } else if (phase_ != Phase::kBody) {
        phase_ = Phase::kBody;
        SetDeadline(server_->options.body_timeout_secs);
        // curl asks for permission before bodies over 1 MiB and otherwise
        // waits a second before sending anyway.
        if (ExpectsContinue()) return SendContinue();
      }
      return ReadSome();
    }
    SetDeadline(0);  // the model takes as long as it takes
    const HttpReadTimes read_times{read_start_ns_, static_cast<uint64_t>(SteadyNowNs())};
    server_->in_flight++;
    HttpRequest request = parser_->release();
    close_after_write_ = !request.keep_alive();
    // Exactly one answer per request reaches the connection: a second call
    // of the responder (a bug somewhere behind it) is dropped, not written.
    const uint64_t seq = ++requests_read_;
    auto respond = [self = shared_from_this(), seq](HttpResponse response) {
      uint64_t expected = seq - 1;
      if (!self->requests_answered_.compare_exchange_strong(expected, seq)) {
        LOG_ERROR("http: a request was answered twice; the second answer is dropped");
        return;
      }
      // On this connection's strand (the handler answered at once, or ran the
      // model inline) the write starts here; from an instance thread it hops over.
      asio::dispatch(self->socket_.get_executor(),
                     [self, response = std::move(response)]() mutable { self->Write(std::move(response)); });
    };
    // The handler answers exactly once. If it throws, the client gets an
    // internal error instead (or, had it answered already, the guard above
    // drops this second answer).
    const unsigned version = request.version();
    const bool keep_alive = request.keep_alive();
    try {
      server_->handler(std::move(request), read_times, respond);
    } catch (const std::exception& e) {
      LOG_ERROR("http: handling a request failed: {}", e.what());
      respond(HttpApi::Error(Status::Internal(std::string("request failed: ") + e.what()), version, keep_alive));
    }
  }

  bool ExpectsContinue() const {
    auto expect = parser_->get().find(beast_http::field::expect);
    return expect != parser_->get().end() && beast::iequals(expect->value(), "100-continue");
  }

  // "100 Continue", then the body is read.
  void SendContinue() {
    static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
    asio::async_write(socket_, asio::buffer(kContinue.data(), kContinue.size()),
                      [self = shared_from_this()](beast::error_code ec, size_t) {
                        if (ec) return self->Shutdown();
                        self->ReadSome();
                      });
  }

  // Answers a request the parser could not read (or whose body is over the
  // limit), and closes the connection once the answer is written.
  void AnswerMalformed(beast_http::status status, const std::string& message) {
    server_->in_flight++;
    close_after_write_ = true;
    HttpResponse res(status, 11);
    res.set(beast_http::field::content_type, "application/json");
    res.keep_alive(false);
    res.body().text = ErrorJson(message);
    res.prepare_payload();
    Write(std::move(res));
  }

  void Write(HttpResponse response) {
    auto res = std::make_shared<HttpResponse>(std::move(response));
    if (close_after_write_) res->keep_alive(false);
    SetDeadline(server_->options.body_timeout_secs);
    beast_http::async_write(socket_, *res,
                            [self = shared_from_this(), res](beast::error_code ec, size_t) {
                              self->server_->in_flight--;
                              if (ec || !res->keep_alive()) return self->Shutdown();
                              self->Read();
                            });
  }

  void Shutdown() {
    SetDeadline(0);
    beast::error_code ec;
    socket_.shutdown(tcp::socket::shutdown_send, ec);
  }

  ConnectionSocket socket_;
  HttpServer::Impl* server_;
  beast::flat_buffer buffer_;
  std::optional<beast_http::request_parser<beast_http::string_body>> parser_;
  bool close_after_write_ = false;
  Phase phase_ = Phase::kIdle;
  uint64_t read_start_ns_ = 0;  // the current request's first bytes; 0 before them
  std::atomic<int64_t> deadline_ns_{0};  // steady clock; 0 = none
  // One request at a time is between read and written: the responder of
  // request n may answer only while answered == n - 1.
  uint64_t requests_read_ = 0;                // on the session's executor
  std::atomic<uint64_t> requests_answered_{0};
};

void HttpServer::Impl::Accept() {
  asio::io_context& loop = *loops[next_loop++ % loops.size()];
  acceptor.async_accept(asio::make_strand(loop), [this](beast::error_code ec, ConnectionSocket socket) {
    if (!acceptor.is_open()) return;  // StopAccepting() closed it
    if (ec == asio::error::operation_aborted) return;
    if (ec) {
      uint64_t suppressed = 0;
      if (accept_log.Allow(&suppressed)) {
        LOG_WARNING("{} accept: {}{}", options.service_name, ec.message(),
                    suppressed ? " (" + std::to_string(suppressed) + " more since the last report)" : "");
      }
      if (IsResourceShortage(ec)) {
        // Retrying at once would spin: the connection stays queued until a
        // descriptor frees up. Wait, then try again.
        accept_backoff.expires_after(kAcceptBackoff);
        accept_backoff.async_wait([this](beast::error_code wait_ec) {
          if (!wait_ec) Accept();  // cancelled: StopAccepting() closed the acceptor
        });
        return;
      }
    } else {
      socket.set_option(tcp::no_delay(true), ec);
      auto session = std::make_shared<Session>(std::move(socket), this);
      {
        std::lock_guard<std::mutex> lock(sessions_mu);
        sessions.insert(session);
      }
      session->Start();
    }
    Accept();
  });
}

void HttpServer::Impl::Sweep() {
  sweeper.expires_after(kSweepInterval);
  sweeper.async_wait([this](beast::error_code ec) {
    if (ec) return;  // cancelled: the server stops
    const int64_t now = SteadyNowNs();
    std::vector<std::shared_ptr<Session>> expired;
    {
      std::lock_guard<std::mutex> lock(sessions_mu);
      for (auto it = sessions.begin(); it != sessions.end();) {
        auto s = it->lock();
        if (!s) {
          it = sessions.erase(it);
          continue;
        }
        if (s->Expired(now)) expired.push_back(std::move(s));
        ++it;
      }
    }
    for (auto& s : expired) s->Close();
    if (!expired.empty()) {
      LOG_VERBOSE("{}: closed {} connection(s) past their deadline", options.service_name, expired.size());
    }
    Sweep();
  });
}

HttpServer::HttpServer(HttpHandler handler, HttpOptions options)
    : impl_(std::make_unique<Impl>(std::move(handler), std::move(options))) {}

HttpServer::~HttpServer() { Stop(std::chrono::milliseconds(0)); }

Status HttpServer::Start() {
  auto& o = impl_->options;
  auto& acceptor = impl_->acceptor;
  INFERD_RETURN_IF_ERROR(ListenOn(acceptor, o.address, o.port, o.reuse_port, o.service_name));
  bound_port_ = acceptor.local_endpoint().port();
  for (auto& loop : impl_->loops) impl_->work.push_back(asio::make_work_guard(*loop));
  impl_->Accept();
  impl_->Sweep();
  const int threads = static_cast<int>(impl_->loops.size());
  // A quick model with an idle instance may run on the I/O thread that read
  // its request (core/inline_execution.h).
  impl_->inline_budget = std::make_unique<InlineExecutionBudget>(threads);
  for (int i = 0; i < threads; ++i) {
    impl_->threads.emplace_back(
        [this, loop = impl_->loops[i].get()] { RunIoThread(*loop, impl_->options.thread_name, impl_->inline_budget.get()); });
  }
  LOG_INFO("Started {} at {}:{} ({} threads)", o.service_name, o.address, bound_port_, threads);
  return Status::Ok();
}

void HttpServer::StopAccepting() {
  asio::post(impl_->acceptor.get_executor(), [impl = impl_.get()] {
    beast::error_code ec;
    impl->acceptor.close(ec);
    impl->accept_backoff.cancel();
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
  asio::post(impl_->sweeper.get_executor(), [impl = impl_.get()] { impl->sweeper.cancel(); });
  impl_->work.clear();
  for (auto& loop : impl_->loops) loop->stop();
  for (auto& t : impl_->threads) t.join();
  impl_->threads.clear();
}

}  // namespace inferd::http
