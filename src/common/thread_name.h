// Names the calling thread, as `top -H`, `ps -L`, debuggers and
// /proc/<pid>/task/<tid>/comm show it. Linux keeps 15 bytes: longer names are
// cut. Names say what a thread serves: "http-io", "grpc-infer",
// "i:<instance>" (a model instance's thread).
#pragma once

#include <pthread.h>

#include <string>

namespace inferd {

inline void NameThisThread(const std::string& name) {
  const std::string cut = name.substr(0, 15);
  (void)pthread_setname_np(pthread_self(), cut.c_str());
}

}  // namespace inferd
