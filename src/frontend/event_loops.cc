#include "frontend/event_loops.h"

#include <algorithm>
#include <thread>

namespace inferd {

int IoThreadCount(int configured) {
  return configured > 0 ? configured : std::max(2, static_cast<int>(std::thread::hardware_concurrency()));
}

std::vector<std::unique_ptr<boost::asio::io_context>> MakeEventLoops(int count) {
  std::vector<std::unique_ptr<boost::asio::io_context>> loops;
  for (int i = 0; i < count; ++i) loops.push_back(std::make_unique<boost::asio::io_context>(1));
  return loops;
}

}  // namespace inferd
