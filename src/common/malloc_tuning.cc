#include "common/malloc_tuning.h"

#include <malloc.h>

#include <cstdlib>

namespace inferd {

void TuneMallocForLargeTensors() {
  if (std::getenv("GLIBC_TUNABLES") != nullptr) return;
  // mallopt is a no-op under ASan/TSan, whose allocators replace glibc's.
  mallopt(M_MMAP_THRESHOLD, 32 << 20);  // glibc's maximum on 64-bit
  mallopt(M_TRIM_THRESHOLD, 256 << 20);
}

void ReleaseFreeMemory() { malloc_trim(0); }

}  // namespace inferd
