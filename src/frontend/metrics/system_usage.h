// What the metrics page reports about the machine and the process, read from
// /proc: system CPU utilization over the last sampling interval (Triton's
// nv_cpu_utilization), system memory, and this process's CPU time and memory.
#pragma once

#include <cstdint>

namespace inferd::metrics {

struct ProcessUsage {
  double cpu_seconds = 0;        // user + system, since start
  uint64_t resident_bytes = 0;
  uint64_t virtual_bytes = 0;
  double start_time_seconds = 0; // since the epoch
};

struct SystemMemory {
  uint64_t total_bytes = 0;
  uint64_t used_bytes = 0;       // total minus available
};

// Both return zeros for what /proc does not give.
ProcessUsage ReadProcessUsage();
SystemMemory ReadSystemMemory();

// Busy and total CPU time of the whole machine, in clock ticks; the
// utilization between two readings is d(busy) / d(total).
struct CpuTimes {
  uint64_t busy = 0;
  uint64_t total = 0;
};
CpuTimes ReadCpuTimes();

}  // namespace inferd::metrics
