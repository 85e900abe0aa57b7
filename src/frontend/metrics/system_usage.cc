#include "frontend/metrics/system_usage.h"

#include <time.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>

namespace inferd::metrics {

ProcessUsage ReadProcessUsage() {
  ProcessUsage u;
  std::ifstream stat("/proc/self/stat");
  std::string line;
  if (!std::getline(stat, line)) return u;
  // The command name (field 2) may hold spaces: fields are counted after ')'.
  const size_t paren = line.rfind(')');
  if (paren == std::string::npos) return u;
  std::istringstream fields(line.substr(paren + 2));
  std::string f;
  uint64_t utime = 0, stime = 0, start_ticks = 0, vsize = 0;
  int64_t rss_pages = 0;
  // Field 3 is the first after ')': utime is 14, stime 15, starttime 22,
  // vsize 23, rss 24.
  for (int field = 3; field <= 24 && (fields >> f); ++field) {
    if (field == 14) utime = std::stoull(f);
    else if (field == 15) stime = std::stoull(f);
    else if (field == 22) start_ticks = std::stoull(f);
    else if (field == 23) vsize = std::stoull(f);
    else if (field == 24) rss_pages = std::stoll(f);
  }
  const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  u.cpu_seconds = static_cast<double>(utime + stime) / ticks;
  u.virtual_bytes = vsize;
  u.resident_bytes = static_cast<uint64_t>(rss_pages) * static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
  // Start time: boot time plus the ticks since boot at which the process started.
  std::ifstream system_stat("/proc/stat");
  while (std::getline(system_stat, line)) {
    if (line.rfind("btime ", 0) == 0) {
      u.start_time_seconds = std::stod(line.substr(6)) + static_cast<double>(start_ticks) / ticks;
      break;
    }
  }
  return u;
}

SystemMemory ReadSystemMemory() {
  SystemMemory m;
  std::ifstream meminfo("/proc/meminfo");
  std::string key;
  uint64_t kib = 0;
  std::string unit;
  uint64_t available = 0;
  while (meminfo >> key >> kib) {
    std::getline(meminfo, unit);
    if (key == "MemTotal:") m.total_bytes = kib * 1024;
    else if (key == "MemAvailable:") available = kib * 1024;
  }
  m.used_bytes = m.total_bytes > available ? m.total_bytes - available : 0;
  return m;
}

CpuTimes ReadCpuTimes() {
  CpuTimes t;
  std::ifstream stat("/proc/stat");
  std::string cpu;
  if (!(stat >> cpu) || cpu != "cpu") return t;
  // user nice system idle iowait irq softirq steal (guest time is inside user).
  uint64_t v[8] = {};
  for (auto& x : v) stat >> x;
  const uint64_t idle = v[3] + v[4];
  for (auto x : v) t.total += x;
  t.busy = t.total - idle;
  return t;
}

}  // namespace inferd::metrics
