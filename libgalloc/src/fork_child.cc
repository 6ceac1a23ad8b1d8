// The child of fork() (thread_state.h): the global space is a MAP_SHARED
// view of this node's memfd, which the agent and the parent keep writing, so
// the child swaps each part of it for private memory holding a copy of the
// pages this node had. Runs in the child before any of the program's code,
// while the parent waits for it (libc-shim/fork.cc), single-threaded, with
// raw system calls only.
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>

#include "diag.h"
#include "global_space.h"
#include "gpt/raw_syscall.h"
#include "heap/node_heap.h"
#include "thread_state.h"

namespace gpt::galloc {
namespace {

[[noreturn]] void cannot_copy(const char* what, long err) {
  rt::diag().text("fork() child: cannot make its private copy of the global space: ").text(what)
      .text(" [errno ").num(-err).text("]").emit();
  sys::call(SYS_exit_group, 127);
  __builtin_unreachable();
}

constexpr std::uint64_t kStatesPerPage = region::kPageSize / sizeof(std::uint32_t);

// Calls each(first, last) for the runs of pages in [first, last) whose state
// word may be other than kValid: the state table is mostly pages never
// written (zero, kValid), which mincore finds without reading them.
template <class F>
void for_each_touched_state_run(const GlobalSpace& s, std::uint64_t first, std::uint64_t last, F each) {
  const auto table = reinterpret_cast<std::uintptr_t>(s.states);
  for (std::uint64_t block = first / kStatesPerPage; block * kStatesPerPage < last; ++block) {
    unsigned char in_core = 0;
    const long r = sys::call(SYS_mincore, sys::arg(table + block * region::kPageSize),
                             static_cast<long>(region::kPageSize), sys::arg(&in_core));
    if (r == 0 && !(in_core & 1)) continue;
    const std::uint64_t from = block * kStatesPerPage < first ? first : block * kStatesPerPage;
    const std::uint64_t to = (block + 1) * kStatesPerPage > last ? last : (block + 1) * kStatesPerPage;
    each(from, to);
  }
}

bool held_here(const GlobalSpace& s, std::uint64_t page) {
  const std::uint32_t state = s.states[page].load(std::memory_order_relaxed);
  return state == kValid || state == kDirty;
}

// [at, at + bytes), whose first page is `first_page`, backed by the memfd
// from `offset`: fresh private memory takes the range's place, holding a
// copy of the pages held here that have data in the memfd (the others are
// holes: zero, as the fresh memory is); pages not held here become
// inaccessible.
void copy_range(const GlobalSpace& s, std::uintptr_t at, std::size_t bytes, std::uint64_t first_page,
                long offset) {
  const long fresh = sys::call(SYS_mmap, 0, static_cast<long>(bytes), PROT_READ | PROT_WRITE,
                               MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (fresh < 0 && fresh > -4096) cannot_copy("mmap", fresh);
  const long end = offset + static_cast<long>(bytes);
  for (long data = offset; data < end;) {
    data = sys::call(SYS_lseek, s.memory_fd, data, SEEK_DATA);
    if (data < 0 || data >= end) break;  // -ENXIO: no data after it
    long hole = sys::call(SYS_lseek, s.memory_fd, data, SEEK_HOLE);
    if (hole < 0 || hole > end) hole = end;
    for (long page_at = data; page_at < hole; page_at += region::kPageSize) {
      const std::uint64_t page = first_page + static_cast<std::uint64_t>(page_at - offset) / region::kPageSize;
      if (held_here(s, page))
        std::memcpy(reinterpret_cast<void*>(fresh + (page_at - offset)),
                    reinterpret_cast<const void*>(at + static_cast<std::uintptr_t>(page_at - offset)),
                    region::kPageSize);
    }
    data = hole;
  }
  const long r = sys::call(SYS_mremap, fresh, static_cast<long>(bytes), static_cast<long>(bytes),
                           MREMAP_MAYMOVE | MREMAP_FIXED, sys::arg(at));
  if (r < 0 && r > -4096) cannot_copy("mremap", r);
  const std::uint64_t last_page = first_page + bytes / region::kPageSize;
  for_each_touched_state_run(s, first_page, last_page, [&](std::uint64_t from, std::uint64_t to) {
    for (std::uint64_t page = from; page < to; ++page) {
      if (held_here(s, page)) continue;
      (void)sys::call(SYS_mprotect, sys::arg(at + (page - first_page) * region::kPageSize),
                      static_cast<long>(region::kPageSize), PROT_NONE);
    }
  });
}

}  // namespace

void bring_in_every_page() {
  const GlobalSpace& s = space();
  if (!s.tracks_writes()) return;
  for_each_touched_state_run(s, 0, s.geometry.page_count(), [&](std::uint64_t from, std::uint64_t to) {
    for (std::uint64_t page = from; page < to; ++page) {
      if (s.states[page].load(std::memory_order_relaxed) != kInvalid) continue;
      if (s.geometry.home_of_page(page) >= s.geometry.node_count) continue;  // unused tail
      // A read: the fault handler fetches it, with the invalid pages after it.
      (void)*reinterpret_cast<const volatile unsigned char*>(s.page_address(page));
    }
  });
}

void become_private_copy() {
  GlobalSpace& s = space();
  if (s.coherent) {
    copy_range(s, s.geometry.base, s.geometry.heap_bytes, 0, 0);
    for (int w = 0; w < region::kGlobalWindows; ++w) {
      const region::Window& win = s.geometry.globals[w];
      const std::uint64_t first = s.geometry.window_first_page(w);
      if (win.bytes) copy_range(s, win.base, win.bytes, first, static_cast<long>(s.geometry.page_offset(first)));
    }
    // The twins are the agent's business; the descriptor is the memfd's.
    (void)sys::call(SYS_munmap, sys::arg(s.twins), static_cast<long>(s.geometry.page_count() * region::kPageSize));
    s.twins = nullptr;
    (void)sys::call(SYS_munmap, sys::arg(s.sole), static_cast<long>(s.geometry.sole_copy_bytes()));
    s.sole = nullptr;
    (void)sys::call(SYS_close, s.memory_fd);
    s.memory_fd = -1;
    s.coherent = false;
  }
  release_heap_after_fork();
}

}  // namespace gpt::galloc
