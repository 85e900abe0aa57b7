/* Heap allocation counter for tests: LD_PRELOAD it into a process and every
 * malloc, calloc, realloc and aligned allocation (C++'s operator new included,
 * which calls malloc) adds one to a counter that another process can read.
 *
 * Contract: with INFERD_ALLOC_COUNTER_FILE=<path> in the environment, the file
 * is created (or reused), sized to 16 bytes and mapped shared; bytes 0-7 hold
 * the number of allocations since the process started and bytes 8-15 the bytes
 * requested, both little-endian unsigned 64-bit, updated atomically. A reader
 * takes two snapshots around some work and divides. Without the variable the
 * library counts privately and changes nothing.
 *
 * Why a preloaded library and not glibc's malloc hooks: glibc 2.34 removed the
 * hooks. The allocations themselves go to glibc's own allocator (__libc_*), so
 * free, malloc_usable_size and the rest stay consistent. Test-only: never in the
 * server, and not with sanitizers (they replace malloc themselves). */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

extern void* __libc_malloc(size_t size);
extern void* __libc_calloc(size_t count, size_t size);
extern void* __libc_realloc(void* ptr, size_t size);
extern void* __libc_memalign(size_t alignment, size_t size);
extern void* __libc_valloc(size_t size);
extern void* __libc_pvalloc(size_t size);

/* Allocations made before the constructor has mapped the file (the dynamic
 * loader's, other libraries' constructors) land here. */
static uint64_t early_counts[2];
static uint64_t* counts = early_counts;

static void count(size_t size) {
  __atomic_fetch_add(&counts[0], 1, __ATOMIC_RELAXED);
  __atomic_fetch_add(&counts[1], (uint64_t)size, __ATOMIC_RELAXED);
}

__attribute__((constructor)) static void map_counter_file(void) {
  extern char** environ;
  static const char kName[] = "INFERD_ALLOC_COUNTER_FILE=";
  const char* path = NULL;
  /* getenv is safe here, but scanning environ keeps this file free of anything
   * that could allocate. */
  for (char** e = environ; e != NULL && *e != NULL; ++e) {
    size_t i = 0;
    while (kName[i] != '\0' && (*e)[i] == kName[i]) ++i;
    if (kName[i] == '\0') { path = *e + i; break; }
  }
  if (path == NULL || *path == '\0') return;
  int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return;
  if (ftruncate(fd, sizeof early_counts) == 0) {
    void* mapped = mmap(NULL, sizeof early_counts, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (mapped != MAP_FAILED) {
      uint64_t* shared = (uint64_t*)mapped;
      shared[0] = __atomic_load_n(&early_counts[0], __ATOMIC_RELAXED);
      shared[1] = __atomic_load_n(&early_counts[1], __ATOMIC_RELAXED);
      __atomic_store_n(&counts, shared, __ATOMIC_RELEASE);
    }
  }
  close(fd);
}

void* malloc(size_t size) {
  count(size);
  return __libc_malloc(size);
}

void* calloc(size_t n, size_t size) {
  count(n * size);
  return __libc_calloc(n, size);
}

void* realloc(void* ptr, size_t size) {
  count(size);
  return __libc_realloc(ptr, size);
}

void* memalign(size_t alignment, size_t size) {
  count(size);
  return __libc_memalign(alignment, size);
}

void* aligned_alloc(size_t alignment, size_t size) {
  count(size);
  return __libc_memalign(alignment, size);
}

int posix_memalign(void** out, size_t alignment, size_t size) {
  if (alignment < sizeof(void*) || (alignment & (alignment - 1)) != 0) return EINVAL;
  count(size);
  void* p = __libc_memalign(alignment, size);
  if (p == NULL) return ENOMEM;
  *out = p;
  return 0;
}

void* valloc(size_t size) {
  count(size);
  return __libc_valloc(size);
}

void* pvalloc(size_t size) {
  count(size);
  return __libc_pvalloc(size);
}
