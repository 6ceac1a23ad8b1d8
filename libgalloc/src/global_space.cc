#include "global_space.h"

#include <errno.h>
#include <sys/mman.h>

#include "diag.h"
#include "runtime.h"

namespace gpt::galloc {
namespace {

GlobalSpace g_space;

void* map_private(std::size_t bytes) {
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE,
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

}  // namespace

GlobalSpace& space() { return g_space; }

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
    heap = mmap(reinterpret_cast<void*>(s.geometry.base), s.geometry.heap_bytes, PROT_READ,
                MAP_SHARED | MAP_FIXED_NOREPLACE | MAP_NORESERVE, h.heap_fd, 0);
    if (heap == MAP_FAILED) cannot_map("the global address space", s.geometry.base, s.geometry.heap_bytes, errno);
    void* twins = mmap(nullptr, s.geometry.heap_bytes, PROT_READ | PROT_WRITE,
                       MAP_SHARED | MAP_NORESERVE, h.heap_fd,
                       static_cast<off_t>(s.geometry.twin_offset(0)));
    if (twins == MAP_FAILED) cannot_map("the twin area", 0, s.geometry.heap_bytes, errno);
    s.twins = static_cast<std::byte*>(twins);
    close(h.heap_fd);
  } else {
    heap = mmap(base, s.geometry.heap_bytes, PROT_READ | PROT_WRITE,
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
