#include "frontend/tcp_listen.h"

#include <sys/socket.h>

#include <boost/asio/error.hpp>
#include <cerrno>

namespace inferd {
namespace asio = boost::asio;

Status ListenOn(asio::ip::tcp::acceptor& acceptor, const std::string& address, uint16_t port, bool reuse_port,
                const std::string& service) {
  boost::system::error_code ec;
  auto ip = asio::ip::make_address(address, ec);
  if (ec) return Status::InvalidArg("invalid address '" + address + "' for " + service + ": " + ec.message());
  asio::ip::tcp::endpoint endpoint(ip, port);
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec && reuse_port) {
    const int on = 1;
    if (::setsockopt(acceptor.native_handle(), SOL_SOCKET, SO_REUSEPORT, &on, sizeof on) != 0) {
      ec.assign(errno, boost::system::system_category());
    }
  }
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return Status::Unavailable("cannot listen for " + service + " on " + address + ":" + std::to_string(port) +
                               ": " + ec.message());
  }
  return Status::Ok();
}

bool IsResourceShortage(const boost::system::error_code& ec) {
  return ec == asio::error::no_descriptors || ec == asio::error::no_buffer_space || ec == asio::error::no_memory ||
         ec.value() == ENFILE;
}

}  // namespace inferd
