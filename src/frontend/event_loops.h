// The I/O threads both servers run (HTTP/1.1 and the HTTP/2 gRPC transport):
// one event loop per thread. A connection belongs to one loop, whose thread
// alone reads, parses, runs (inline) and answers its requests. With one loop
// shared by all threads, Asio woke a second thread to wait on epoll whenever
// the first took an event, and interrupted that wait when the first went
// back: context switches per request, which cost most where the switch
// crosses CPUs (issue 16: "one event loop per I/O thread").
#pragma once

#include <boost/asio/io_context.hpp>
#include <memory>
#include <string>
#include <vector>

namespace inferd {

class InlineExecutionBudget;

// The number of I/O threads: `configured` when positive, else one per CPU
// and at least two (one may be busy running a model inline).
int IoThreadCount(int configured);

// `count` event loops, each for a single thread (Asio's concurrency hint 1).
std::vector<std::unique_ptr<boost::asio::io_context>> MakeEventLoops(int count);

// The body of an I/O thread: names the thread `thread_name`, lets it run
// quick models inline within `budget` (core/inline_execution.h) and runs
// `loop` until it stops. A handler that throws (only bad_alloc can, on the
// request paths) is logged and the loop goes on, rather than the exception
// ending the process.
void RunIoThread(boost::asio::io_context& loop, const std::string& thread_name, InlineExecutionBudget* budget);

}  // namespace inferd
