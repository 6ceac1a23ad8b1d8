#include "global_space.h"

#include "gpt/raw_syscall.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>

#include "diag.h"
#include "exe_windows.h"
#include "runtime.h"
#include "local_memory.h"

namespace gpt::galloc {
namespace {


void* map_private(std::size_t bytes) {
  void* p = rt::map_local(nullptr, bytes, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  return p == MAP_FAILED ? nullptr : p;
}

[[noreturn]] void cannot_map(const char* what, std::uintptr_t at, std::size_t bytes, int err) {
  rt::diag()
      .text("cannot map ")
      .text(what)
      .text(" at ")
      .hex(at)
      .text(" (")
      .num(static_cast<long long>(bytes >> 20))
      .text(" MiB): ")
      .text(err == EEXIST ? "the address range is already in use in this process (a clash "
                            "with another mapping; see /proc/<pid>/maps)"
                          : err == ENOMEM ? "out of address space or memory (try a smaller "
                                            "GPT_HEAP_SIZE)"
                                          : "mmap failed")
      .text(" [errno ")
      .num(err)
      .text("]")
      .emit();
  _exit(127);
}

// The program's globals, gathered by gpt-cc's link script (tools/gpt-globals.ld)
// into page-aligned windows. Weak: a program linked without it shares none.
extern "C" {
extern char __gpt_data_start[] __attribute__((weak));
extern char __gpt_data_end[] __attribute__((weak));
extern char __gpt_bss_start[] __attribute__((weak));
extern char __gpt_bss_end[] __attribute__((weak));
}

int initial_protection(const GlobalSpace& s) {
  return s.geometry.node_count > 1 ? PROT_READ : PROT_READ | PROT_WRITE;
}

// Moves each globals window onto the node's memfd. Every node starts from
// the same image (the same binary, before any of the program's constructors
// ran), so every copy is valid at epoch 0, exactly like the zero-filled heap.
void share_globals(GlobalSpace& s, int fd) {
  char* const bounds[2][2] = {{__gpt_data_start, __gpt_data_end}, {__gpt_bss_start, __gpt_bss_end}};
  int used = 0;
  for (const auto& b : bounds) {
    char* start = b[0];
    char* end = b[1];
    if (!start || end <= start) continue;
    s.geometry.globals[used++] = {reinterpret_cast<std::uintptr_t>(start), static_cast<std::size_t>(end - start)};
  }
  // A program started with --preload has no link-script windows: its
  // executable's pages are shared instead.
  used = exe_windows::add_windows(s.geometry.globals, used, region::kGlobalWindows, s.geometry.base);
  std::size_t total = 0;
  for (int w = 0; w < used; ++w) total += s.geometry.globals[w].bytes;
  if (total > region::kMaxGlobalsBytes) {
    rt::diag()
        .text("the program's globals take ")
        .num(static_cast<long long>(total >> 20))
        .text(" MiB; at most 1024 MiB can be shared")
        .emit();
    _exit(127);
  }
  for (int w = 0; w < region::kGlobalWindows; ++w) {
    const region::Window& win = s.geometry.globals[w];
    if (win.bytes == 0) continue;
    const auto offset = static_cast<off_t>(s.geometry.page_offset(s.geometry.window_first_page(w)));
    void* copy = rt::map_local(nullptr, win.bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, offset);
    if (copy == MAP_FAILED) cannot_map("the globals' backing", 0, win.bytes, errno);
    std::memcpy(copy, reinterpret_cast<void*>(win.base), win.bytes);
    rt::unmap_local(copy, win.bytes);
    // Single-threaded here (before main): nothing touches the window while
    // the program's own pages are replaced by the shared ones.
    void* at = rt::map_local(reinterpret_cast<void*>(win.base), win.bytes, initial_protection(s),
                    MAP_SHARED | MAP_FIXED, fd, offset);
    if (at == MAP_FAILED) cannot_map("the program's globals", win.base, win.bytes, errno);
  }
}

}  // namespace

GlobalSpace g_space;

// Where the kept memfd descriptor goes: out of the way of programs that
// count on small descriptor numbers.
constexpr int kMemoryFdFloor = 900;

void return_to_system(std::uintptr_t address, std::size_t bytes) {
  GlobalSpace& s = g_space;
  if (!s.coherent) {
    (void)sys::call(SYS_madvise, sys::arg(address), static_cast<long>(bytes), MADV_DONTNEED);
    return;
  }
  // The pages are shared with the agent: punch them out of the memfd (an
  // madvise would need them writable here, and home pages are read-only
  // until written).
  if (s.memory_fd >= 0)
    (void)sys::call(SYS_fallocate, s.memory_fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                    static_cast<long>(address - s.geometry.base), static_cast<long>(bytes));
}

void map_global_space() {
  GlobalSpace& s = g_space;
  const rt::RuntimeState& rs = rt::state();
  s.self = static_cast<std::uint32_t>(rs.node_id);
  s.geometry.node_count = static_cast<std::uint32_t>(rs.node_count);
  const auto base = reinterpret_cast<void*>(s.geometry.base);
  void* heap;
  if (rs.channel && rs.channel->header.heap_fd >= 0) {
    const auto& h = rs.channel->header;
    s.geometry.base = h.region_base;
    s.geometry.heap_bytes = h.heap_bytes;
    s.coherent = true;
    // Every page starts valid: all copies of the (zero-filled) space agree
    // until someone writes and releases, and then write notices say so.
    // Read-only, so the first write is seen, unless nobody else could read it.
    heap = rt::map_local(reinterpret_cast<void*>(s.geometry.base), s.geometry.heap_bytes, initial_protection(s),
                MAP_SHARED | MAP_FIXED_NOREPLACE | MAP_NORESERVE, h.heap_fd, 0);
    if (heap == MAP_FAILED) cannot_map("the global address space", s.geometry.base, s.geometry.heap_bytes, errno);
    const std::size_t twin_bytes = s.geometry.page_count() * region::kPageSize;
    void* twins = rt::map_local(nullptr, twin_bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE,
                       h.heap_fd, static_cast<off_t>(s.geometry.twin_offset(0)));
    if (twins == MAP_FAILED) cannot_map("the twin area", 0, twin_bytes, errno);
    s.twins = static_cast<std::byte*>(twins);
    void* sole = rt::map_local(nullptr, s.geometry.sole_copy_bytes(), PROT_READ | PROT_WRITE,
                               MAP_SHARED | MAP_NORESERVE, h.heap_fd,
                               static_cast<off_t>(s.geometry.sole_copy_offset()));
    if (sole == MAP_FAILED) cannot_map("the sole-copy marks", 0, s.geometry.sole_copy_bytes(), errno);
    s.sole = static_cast<sole_copy::Mark*>(sole);
    share_globals(s, h.heap_fd);
    s.memory_fd = fcntl(h.heap_fd, F_DUPFD_CLOEXEC, kMemoryFdFloor);
    close(h.heap_fd);
  } else {
    heap = rt::map_local(base, s.geometry.heap_bytes, PROT_READ | PROT_WRITE,
                MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE | MAP_NORESERVE, -1, 0);
    if (heap == MAP_FAILED) cannot_map("the global address space", s.geometry.base, s.geometry.heap_bytes, errno);
  }
  // A kernel without MAP_FIXED_NOREPLACE treats it as a hint: check.
  if (heap != base && heap != reinterpret_cast<void*>(s.geometry.base))
    cannot_map("the global address space", s.geometry.base, s.geometry.heap_bytes, EEXIST);
  s.heap = static_cast<std::byte*>(heap);
  if (!s.coherent) return;

  const std::uint64_t pages = s.geometry.page_count();
  s.states = static_cast<std::atomic<std::uint32_t>*>(map_private(pages * sizeof(std::uint32_t)));
  s.dirty = static_cast<std::uint64_t*>(map_private(pages * sizeof(std::uint64_t)));
  s.flushing = static_cast<std::uint64_t*>(map_private(pages * sizeof(std::uint64_t)));
  if (!s.states || !s.dirty || !s.flushing) cannot_map("the page tables", 0, pages * 20, errno);
  install_fault_handler();
}

}  // namespace gpt::galloc
