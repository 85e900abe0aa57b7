#include "frontend/event_loops.h"

#include <algorithm>
#include <exception>
#include <thread>

#include "common/logging.h"
#include "common/thread_name.h"
#include "core/inline_execution.h"

namespace inferd {

int IoThreadCount(int configured) {
  return configured > 0 ? configured : std::max(2, static_cast<int>(std::thread::hardware_concurrency()));
}

std::vector<std::unique_ptr<boost::asio::io_context>> MakeEventLoops(int count) {
  std::vector<std::unique_ptr<boost::asio::io_context>> loops;
  for (int i = 0; i < count; ++i) loops.push_back(std::make_unique<boost::asio::io_context>(1));
  return loops;
}

void RunIoThread(boost::asio::io_context& loop, const std::string& thread_name, InlineExecutionBudget* budget) {
  NameThisThread(thread_name);
  InlineExecutionScope inline_execution(budget);
  for (;;) {
    try {
      loop.run();
      return;
    } catch (const std::exception& e) {
      LOG_ERROR("{}: an I/O handler failed: {}", thread_name, e.what());
    }
  }
}

}  // namespace inferd
