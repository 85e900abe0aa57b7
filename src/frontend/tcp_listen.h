// The listening side both servers share (HTTP/1.1 and the HTTP/2 gRPC
// transport): opening a bound acceptor, and which accept failures mean the
// machine is out of a resource.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <string>

#include "common/status.h"

namespace inferd {

// Opens `acceptor` on address:port (SO_REUSEADDR; SO_REUSEPORT only with
// `reuse_port`, so that by default a second server cannot take half of the
// connections) and listens. The error names `service` and the endpoint.
Status ListenOn(boost::asio::ip::tcp::acceptor& acceptor, const std::string& address, uint16_t port,
                bool reuse_port, const std::string& service);

// Accept failures that mean "out of a resource" (file descriptors, kernel
// memory): the pending connection stays queued and would fail again at once,
// so accepting must wait a little before it tries again.
bool IsResourceShortage(const boost::system::error_code& ec);

}  // namespace inferd
