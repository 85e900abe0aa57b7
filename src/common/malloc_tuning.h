// How inferd's processes ask glibc's malloc to treat large blocks.
#pragma once

namespace inferd {

// Tensors of a megabyte or more per request are common. By default glibc
// maps such blocks with mmap and unmaps them on free (or trims the freed top
// of its heaps), so every request touches fresh pages and pays a page fault
// per 4 KiB. This keeps blocks below 32 MiB in malloc's heaps and freed memory
// (up to 256 MiB) for reuse: the process keeps its peak working set instead
// of returning it. Does nothing when the user set GLIBC_TUNABLES (theirs wins)
// or under a sanitizer's allocator. Call once, first thing in main.
void TuneMallocForLargeTensors();

}  // namespace inferd
