// Writable shared file mappings written back to their files
// (shared_file_mappings.h; docs/libc-shim.md).
#include "shared_file_mappings.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include <atomic>
#include <cstddef>
#include <cstring>

#include "forwarded_call.h"
#include "gpt/raw_syscall.h"
#include "local_memory.h"
#include "origin_calls.h"
#include "runtime.h"
#include "shim.h"

namespace gpt::shim {
namespace {

// The kernel cannot read global pages that are not here (it would fail with
// EFAULT, or a release could write-protect them mid-call): the bytes go
// through this node's own memory, copied in user mode, where a coherence
// fault is taken as the program's would be.
constexpr std::size_t kBounce = 256 * 1024;

// On the origin: whether any writable shared file mapping was ever made.
// Without one its exit need not walk the heap (tens of ms with the default
// 64 GiB heap: one look at each chunk's descriptor).
std::atomic<bool> g_kept_any{false};

// The file's size on the origin now, or -errno.
long file_size(int fd) {
  void* page = rt::map_local(nullptr, kPage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
  if (page == MAP_FAILED) return -ENOMEM;
  long r = call_as_origin(SYS_fstat, fd, sys::arg(page));
  if (r >= 0) r = static_cast<const struct stat*>(page)->st_size;
  rt::unmap_local(page, kPage);
  return r;
}

// pwrite of all `bytes` at `offset`: a call forwarded from another node
// carries one slot's worth at a time, and comes back short.
long write_all(int fd, const std::byte* from, std::size_t bytes, std::uint64_t offset) {
  for (std::size_t done = 0; done < bytes;) {
    const long r = call_as_origin(SYS_pwrite64, fd, sys::arg(from + done), static_cast<long>(bytes - done),
                                  static_cast<long>(offset + done));
    if (r == -EINTR) continue;
    if (r < 0) return -r;
    if (r == 0) return EIO;
    done += static_cast<std::size_t>(r);
  }
  return 0;
}

}  // namespace

long keep_file(int fd) { return forwarding() ? ask_origin(kKeepFileRequest, fd) : keep_file_here(fd); }

bool any_file_kept_here() { return g_kept_any.load(std::memory_order_acquire); }

long keep_file_here(int fd) {
  g_kept_any.store(true, std::memory_order_release);
  return sys::call(SYS_fcntl, fd, F_DUPFD_CLOEXEC, 0);
}

void let_go_of_file(int fd) { (void)call_as_origin(SYS_close, fd); }

long write_back(const Mapping& m, std::uint64_t from, std::uint64_t to) {
  const Header& h = *m.header;
  if (h.kind != Kind::kSharedFile) return 0;
  if (from < h.low) from = h.low;
  if (to > h.high) to = h.high;
  if (from >= to) return 0;
  const long size = file_size(h.fd);
  if (size < 0) return -size;
  const auto end = static_cast<std::uint64_t>(size);
  if (h.file_offset + from >= end) return 0;  // all past the end: dropped
  if (h.file_offset + to > end) to = end - h.file_offset;
  void* bounce = rt::map_local(nullptr, kBounce, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
  if (bounce == MAP_FAILED) return ENOMEM;
  long error = 0;
  for (std::uint64_t at = from; at < to && error == 0;) {
    const std::size_t piece = to - at < kBounce ? static_cast<std::size_t>(to - at) : kBounce;
    std::memcpy(bounce, m.data + at, piece);
    error = write_all(h.fd, static_cast<const std::byte*>(bounce), piece, h.file_offset + at);
    at += piece;
  }
  rt::unmap_local(bounce, kBounce);
  return error;
}

long sync_range(std::byte* from, std::byte* to, bool durable) {
  std::uint64_t covered = 0;
  long error = 0;
  each_mapping(from, to, [&](const Mapping& m) {
    std::byte* const low = m.data + m.header->low;
    std::byte* const high = m.data + m.header->high;
    std::byte* const first = from > low ? from : low;
    std::byte* const last = to < high ? to : high;
    if (first >= last) return;
    covered += static_cast<std::uint64_t>(last - first);
    long e = write_back(m, static_cast<std::uint64_t>(first - m.data), static_cast<std::uint64_t>(last - m.data));
    if (e == 0 && durable && m.header->kind == Kind::kSharedFile) {
      const long r = call_as_origin(SYS_fdatasync, m.header->fd);
      if (r < 0) e = -r;
    }
    if (error == 0) error = e;
  });
  if (error) return error;
  return covered < static_cast<std::uint64_t>(to - from) ? ENOMEM : 0;
}

void write_back_all() {
  const galloc::GlobalSpace& s = galloc::space();
  if (!s.heap) return;
  // Without a mapping to write back, no walk of the heap (tens of ms).
  if (!(forwarding() ? ask_origin(kAnyFileKeptRequest, 0) > 0 : any_file_kept_here())) return;
  each_mapping(s.heap, s.heap + s.geometry.heap_bytes, [](const Mapping& m) {
    // Nothing to tell the program any more: a failed write is lost, as a
    // failed write-back of the kernel's at the end of a process is.
    (void)write_back(m, m.header->low, m.header->high);
  });
}

void write_back_at_origin_exit() {
  if (!rt::state().channel || rt::state().fork_child) return;
  if (!galloc::space().coherent || exit_came_from_another_node()) return;
  write_back_all();
}

}  // namespace gpt::shim
