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

// Gives the memory that freed blocks hold back to the system (every malloc
// arena, whole free pages inside the heaps too). The tuning above keeps
// freed blocks for reuse; after a model version is destroyed they would stay
// (each reload of a 10 MB ONNX model left ~4 MB), so the lifecycle calls
// this once a retired version is gone. Takes milliseconds: never per request.
void ReleaseFreeMemory();

}  // namespace inferd
