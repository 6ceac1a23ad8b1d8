// The program's own mmap, munmap, mremap, mprotect, madvise, msync, brk and sbrk
// (docs/user-guide.md, "Memory"; docs/libc-shim.md). A program that maps
// its input file or an anonymous buffer in main and hands the pointer to
// its threads needs the address valid on every node, so its mappings come
// from the global space: a large block of the allocator, zero-filled,
// coherent like heap memory, whose first page holds the mapping's header
// and whose data starts at the next page. A file is copied in (read on the
// origin, where its descriptor lives); a writable shared one is also
// written back to the file (shared_file_mappings.h). munmap, mremap, madvise
// and msync find the mapping from any address inside it, on any node
// (mapping_blocks.h).
//
// What stays node-local: mappings of executable memory (code cannot run
// from the global space, whose protections the coherence protocol owns),
// MAP_FIXED or MAP_32BIT mappings outside the global space, character
// devices, and every mapping the runtime or the libc make for themselves
// (the runtime maps through local_memory.h; the libc calls its internal
// names, which these wrappers do not replace; libunwind runs under
// rt::LocalMappingsOnly). musl programs link with --wrap for these calls
// (gpt-cc); glibc programs find them in libgpthread.so before the libc.
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "diag.h"
#include "fork_sharing.h"
#include "futex_lock.h"
#include "global_space.h"
#include "gpt/raw_syscall.h"
#include "local_memory.h"
#include "mapping_blocks.h"
#include "origin_calls.h"
#include "runtime.h"
#include "shared_file_mappings.h"
#include "shim.h"

#define GPT_API extern "C" __attribute__((visibility("default")))

namespace gpt::shim {
namespace {

constexpr long kMremapMaymove = 1, kMremapDontunmap = 4;
constexpr int kMapType = 0x0f;
// The flags MAP_SHARED_VALIDATE accepts for a file (the kernel's
// LEGACY_MAP_MASK and MAP_SYNC); others fail with EOPNOTSUPP.
constexpr long kValidatedFlags = 0x3 | MAP_FIXED | MAP_ANONYMOUS | 0x800 /* MAP_DENYWRITE */ |
                                 0x1000 /* MAP_EXECUTABLE */ | 0x4000000 /* MAP_UNINITIALIZED */ |
                                 MAP_GROWSDOWN | MAP_LOCKED | MAP_NORESERVE | MAP_POPULATE | MAP_NONBLOCK |
                                 MAP_STACK | MAP_HUGETLB | MAP_32BIT | (31l << 26) /* MAP_HUGE_2MB, _1GB */ |
                                 0x80000 /* MAP_SYNC */;

// One node's threads change mappings one at a time, as one process's do
// under the kernel's lock (two nodes at once: a data race, documented).
FutexLock g_changing;

// The mmap family works on the global space once the runtime runs with an
// agent; before that (the runtime's own start-up), without an agent, and
// while the runtime maps for itself, they are the kernel's.
bool global_mappings() {
  if (rt::t_local_mappings_only) return false;
  const int started = rt::g_started.load(std::memory_order_acquire);
  if (started == 1) return false;  // the runtime starting up, on this thread
  if (started == 0) rt::ensure_started();
  return galloc::space().coherent;
}

bool in_global_space(const void* p) { return galloc::space().coherent && galloc::space().contains(p); }

[[nodiscard]] bool page_aligned(const void* p) {
  return (reinterpret_cast<std::uintptr_t>(p) & (kPage - 1)) == 0;
}

// Rounds up to whole pages; false if that wraps around.
[[nodiscard]] bool round_to_pages(std::size_t length, std::size_t* out) {
  if (length > SIZE_MAX - (kPage - 1)) return false;
  *out = (length + kPage - 1) & ~(kPage - 1);
  return true;
}

long fail(long error) {
  errno = static_cast<int>(error);
  return -1;
}
void* fail_map(long error) {
  errno = static_cast<int>(error);
  return MAP_FAILED;
}

void* local_map(void* at, std::size_t length, int prot, int flags, int fd, off_t offset) {
  if (!(flags & MAP_ANONYMOUS) && forwarding()) {
    // The descriptor is the origin's: a private copy, as the libc's own
    // file mappings get on this node (docs/libc-shim.md).
    const long a[6] = {sys::arg(at), static_cast<long>(length), prot, flags, fd, offset};
    const long r = map_file_copy_here(a);
    if (r < 0 && r > -4096) return fail_map(-r);
    return reinterpret_cast<void*>(r);
  }
  return rt::map_local(at, length, prot, flags, fd, offset);
}

long local_call(long nr, long a, long b, long c, long d = 0, long e = 0) {
  const long r = sys::call(nr, a, b, c, d, e);
  return r < 0 && r > -4096 ? fail(-r) : r;
}

void say_refused(const char* call, const char* what, const char* why, const char* error) {
  rt::diag()
      .text(call)
      .text(": ")
      .text(what)
      .text(" is not supported by gpthread (")
      .text(why)
      .text("); the call fails with ")
      .text(error)
      .emit();
}

// The origin's view of a descriptor the program maps: what the kernel
// looks at before it maps a file.
struct FileFacts {
  long error = 0;  // EBADF...
  mode_t mode = 0;
  long access = 0;  // O_RDONLY, O_WRONLY or O_RDWR
};
FileFacts probe_file(int fd) {
  // The kernel fills the stat on the origin: not on this thread's stack,
  // which is global memory it cannot fault in (docs/libc-shim.md).
  void* page = rt::map_local(nullptr, kPage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
  if (page == MAP_FAILED) return {ENOMEM};
  const auto* st = static_cast<const struct stat*>(page);
  FileFacts facts;
  long r = call_as_origin(SYS_fstat, fd, sys::arg(page));
  if (r >= 0) r = call_as_origin(SYS_fcntl, fd, F_GETFL);
  if (r < 0)
    facts.error = -r;
  else
    facts = {0, st->st_mode, r & O_ACCMODE};
  rt::unmap_local(page, kPage);
  return facts;
}

// 0, or the errno the kernel would give for mapping that file so.
long file_mapping_error(const FileFacts& f, int prot, int type, int flags) {
  const bool shared = type != MAP_PRIVATE;
  if (type == MAP_SHARED_VALIDATE && (flags & ~kValidatedFlags)) return EOPNOTSUPP;
  if (shared && (prot & PROT_WRITE) && f.access != O_RDWR) return EACCES;
  if (f.access == O_WRONLY) return EACCES;
  if (!S_ISREG(f.mode) && !S_ISBLK(f.mode)) return ENODEV;
  return 0;
}

// Copies `bytes` of the file from `offset` to `to` (the global space), read
// on the origin; past the end of the file the memory keeps its zeros.
long fill_from_file(std::byte* to, std::size_t bytes, int fd, off_t offset) {
  constexpr std::size_t kBounce = 256 * 1024;
  // The kernel cannot write global pages that are not here (it would fail
  // with EFAULT): read into this node's memory, copy in user mode.
  void* bounce = rt::map_local(nullptr, kBounce, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
  if (bounce == MAP_FAILED) return ENOMEM;
  long error = 0;
  for (std::size_t done = 0; done < bytes;) {
    const std::size_t piece = bytes - done < kBounce ? bytes - done : kBounce;
    const long r = call_as_origin(SYS_pread64, fd, sys::arg(bounce), static_cast<long>(piece),
                                  offset + static_cast<long>(done));
    if (r == -EINTR) continue;
    if (r < 0) {
      error = -r;
      break;
    }
    if (r == 0) break;
    std::memcpy(to + done, bounce, static_cast<std::size_t>(r));
    done += static_cast<std::size_t>(r);
  }
  rt::unmap_local(bounce, kBounce);
  return error;
}

// A new mapping of `bytes` (whole pages), zero-filled.
Mapping create(std::size_t bytes, Kind kind, int prot) {
  if (bytes > SIZE_MAX - kPage) return {};
  bool zeroed = false;
  void* block = galloc::alloc_region(bytes + kPage, &zeroed);
  if (!block) return {};
  auto* data = static_cast<std::byte*>(block) + kPage;
  if (!zeroed) std::memset(data, 0, bytes);
  auto* header = static_cast<Header*>(block);
  *header = Header{magic_for(data), bytes, 0, bytes, kind, static_cast<std::uint32_t>(prot), -1, 0, 0};
  return {header, data, bytes};
}

void destroy(const Mapping& m) {
  if (m.header->kind == Kind::kSharedFile) let_go_of_file(m.header->fd);
  m.header->magic = 0;
  galloc::free_region(m.header);
}

// Unmaps [from, to) (offsets into the data, clipped to it). The memory goes
// back once nothing of the mapping is left; a hole in the middle stays
// allocated (and readable) until then.
void unmap_part(const Mapping& m, std::uint64_t from, std::uint64_t to) {
  Header& h = *m.header;
  if (to > h.high) to = h.high;
  if (from < h.low) from = h.low;
  if (from >= to) return;
  // What leaves a shared file mapping reaches the file first, as the
  // kernel's page cache keeps it (munmap reports no error for it).
  (void)write_back(m, from, to);
  if (from == h.low && to == h.high) {
    destroy(m);
    return;
  }
  if (from == h.low)
    h.low = to;
  else if (to == h.high)
    h.high = from;
}

// MAP_FIXED onto an address of the global space: the kernel would replace
// the pages. Done inside one live mapping (its contents replaced); anywhere
// else it would replace the heap or the globals under the runtime.
void* map_fixed_inside(std::byte* at, std::size_t bytes, int fd, off_t offset, bool anonymous) {
  const Mapping m = find_mapping(at);
  const std::uint64_t from = m ? static_cast<std::uint64_t>(at - m.data) : 0;
  if (!m || from < m.header->low || from + bytes > m.header->high) {
    say_refused("mmap", "MAP_FIXED onto global memory that is not one of the program's mappings",
                "it would replace the heap or the globals", "ENOMEM");
    return fail_map(ENOMEM);
  }
  if (m.header->kind == Kind::kSharedFile) {
    say_refused("mmap", "MAP_FIXED onto a writable shared mapping of a file",
                "the block writes back to one file from one offset", "ENOMEM");
    return fail_map(ENOMEM);
  }
  std::memset(at, 0, bytes);
  if (!anonymous) {
    if (const long error = fill_from_file(at, bytes, fd, offset)) return fail_map(error);
  }
  return at;
}

void* program_mmap(void* at, std::size_t length, int prot, int flags, int fd, off_t offset) {
  const bool fixed = flags & (MAP_FIXED | MAP_FIXED_NOREPLACE);
  const bool anonymous = flags & MAP_ANONYMOUS;
  // Executable memory, stacks that grow down, low addresses and fixed
  // addresses outside the global space are this node's.
  if (!global_mappings() || (prot & PROT_EXEC) || (flags & (MAP_GROWSDOWN | MAP_32BIT)) ||
      (fixed && !in_global_space(at)))
    return local_map(at, length, prot, flags, fd, offset);
  // The kernel's checks, in its order.
  if (offset & static_cast<off_t>(kPage - 1)) return fail_map(EINVAL);
  FileFacts file;
  if (!anonymous) {
    file = probe_file(fd);
    if (file.error) return fail_map(file.error);
    // A device that gives memory of its own (/dev/zero...): this node's.
    if (S_ISCHR(file.mode)) return local_map(at, length, prot, flags, fd, offset);
  }
  if (length == 0) return fail_map(EINVAL);
  std::size_t bytes;
  if (!round_to_pages(length, &bytes)) return fail_map(ENOMEM);
  if (!anonymous && (offset < 0 || static_cast<std::uint64_t>(offset) > UINT64_MAX - bytes))
    return fail_map(EOVERFLOW);
  const int type = flags & kMapType;
  if (type != MAP_SHARED && type != MAP_PRIVATE && type != MAP_SHARED_VALIDATE) return fail_map(EINVAL);
  if (!anonymous) {
    if (const long error = file_mapping_error(file, prot, type, flags)) return fail_map(error);
  }
  const bool writes_file = !anonymous && type != MAP_PRIVATE && (prot & PROT_WRITE);
  if (fixed) {
    if (!page_aligned(at)) return fail_map(EINVAL);
    if (flags & MAP_FIXED_NOREPLACE) return fail_map(EEXIST);
    if (writes_file) {
      say_refused("mmap", "MAP_FIXED with a writable shared mapping of a file",
                  "it would have to write back part of another mapping's block", "ENOMEM");
      return fail_map(ENOMEM);
    }
    return map_fixed_inside(static_cast<std::byte*>(at), bytes, fd, offset, anonymous);
  }
  const Kind kind = writes_file            ? Kind::kSharedFile
                    : !anonymous           ? Kind::kFile
                    : type == MAP_PRIVATE  ? Kind::kAnonymousPrivate
                                           : Kind::kAnonymousShared;
  // The origin's own descriptor, taken first: the program may close its
  // own as soon as mmap returns (shared_file_mappings.h).
  long kept = -1;
  if (writes_file && (kept = keep_file(fd)) < 0) return fail_map(-kept);
  const Mapping m = create(bytes, kind, prot);
  if (!m) {
    if (kept >= 0) let_go_of_file(static_cast<int>(kept));
    return fail_map(ENOMEM);
  }
  m.header->fd = static_cast<std::int32_t>(kept);
  m.header->file_offset = static_cast<std::uint64_t>(offset);
  if (!anonymous) {
    if (const long error = fill_from_file(m.data, bytes, fd, offset)) {
      m.header->high = m.header->low;  // nothing to write back
      destroy(m);
      return fail_map(error);
    }
  }
  // Shared with a child of fork() under the kernel, not here: its forks
  // say so (fork_sharing.h).
  if (kind == Kind::kAnonymousShared || kind == Kind::kSharedFile) note_shared_mapping();
  return m.data;
}

[[nodiscard]] bool range_wraps(const void* at, std::size_t bytes) {
  return bytes > UINTPTR_MAX - reinterpret_cast<std::uintptr_t>(at);
}

int program_munmap(void* at, std::size_t length) {
  if (!in_global_space(at) || !global_mappings())
    return static_cast<int>(local_call(SYS_munmap, sys::arg(at), static_cast<long>(length), 0));
  std::size_t bytes;
  if (!page_aligned(at) || length == 0 || !round_to_pages(length, &bytes) || range_wraps(at, bytes))
    return static_cast<int>(fail(EINVAL));
  Held<FutexLock> hold(g_changing);
  auto* const from = static_cast<std::byte*>(at);
  std::byte* const to = from + bytes;
  // Each mapping the range meets loses its part; memory of the global
  // space that is no mapping (the heap, the globals) is left alone, and so
  // is a mapping of which the range covers only the header page.
  each_mapping(from, to, [&](const Mapping& m) {
    if (to <= m.data) return;
    std::byte* const data_end = m.data + m.header->bytes;
    const std::uint64_t first = from > m.data ? static_cast<std::uint64_t>(from - m.data) : 0;
    const std::uint64_t last = static_cast<std::uint64_t>((to < data_end ? to : data_end) - m.data);
    unmap_part(m, first, last);
  });
  return 0;
}

void* program_mremap(void* old, std::size_t old_length, std::size_t new_length, int flags, void* new_at) {
  if (!in_global_space(old) || !global_mappings()) {
    const long r = sys::call(SYS_mremap, sys::arg(old), static_cast<long>(old_length),
                             static_cast<long>(new_length), flags, sys::arg(new_at));
    return r < 0 && r > -4096 ? fail_map(-r) : reinterpret_cast<void*>(r);
  }
  if (flags & ~(kMremapMaymove | MREMAP_FIXED | kMremapDontunmap)) return fail_map(EINVAL);
  if (flags & ~kMremapMaymove) {
    say_refused("mremap", "MREMAP_FIXED or MREMAP_DONTUNMAP on a mapping in the global space",
                "its mappings live at addresses the allocator chooses", "EINVAL");
    return fail_map(EINVAL);
  }
  std::size_t old_bytes, new_bytes;
  if (!page_aligned(old) || !round_to_pages(old_length, &old_bytes) ||
      !round_to_pages(new_length, &new_bytes) || new_bytes == 0 || old_bytes == 0)
    return fail_map(EINVAL);
  Held<FutexLock> hold(g_changing);
  const Mapping m = find_mapping(old);
  auto* at = static_cast<std::byte*>(old);
  const std::uint64_t from = m ? static_cast<std::uint64_t>(at - m.data) : 0;
  if (!m || at < m.data || from < m.header->low || from + old_bytes > m.header->high) return fail_map(EFAULT);
  Header& h = *m.header;
  if (new_bytes <= old_bytes) {
    unmap_part(m, from + new_bytes, from + old_bytes);
    return old;
  }
  if (new_bytes > galloc::space().geometry.heap_bytes) return fail_map(ENOMEM);
  // Growing: in place if the range ends the mapping and the block has room
  // (or can be made to have it), else moved with its contents.
  if (from + old_bytes == h.high && h.high == h.bytes) {
    const std::uint64_t want = from + new_bytes;
    if (want <= m.room || galloc::resize_region(m.header, kPage + want)) {
      std::memset(at + old_bytes, 0, new_bytes - old_bytes);
      h.bytes = h.high = want;
      // A shared file mapping shows the file's bytes that follow.
      if (h.kind == Kind::kSharedFile)
        (void)fill_from_file(at + old_bytes, new_bytes - old_bytes, h.fd,
                             static_cast<off_t>(h.file_offset + from + old_bytes));
      return old;
    }
  }
  if (!(flags & kMremapMaymove)) return fail_map(ENOMEM);
  // A moved shared file mapping keeps writing back to its file, from the
  // offset of the part that moved, through a descriptor of its own (the
  // old block may live on with other parts).
  long kept = -1;
  if (h.kind == Kind::kSharedFile && (kept = keep_file(h.fd)) < 0) return fail_map(-kept);
  const Mapping moved = create(new_bytes, h.kind, static_cast<int>(h.prot));
  if (!moved) {
    if (kept >= 0) let_go_of_file(static_cast<int>(kept));
    return fail_map(ENOMEM);
  }
  moved.header->fd = static_cast<std::int32_t>(kept);
  moved.header->file_offset = h.file_offset + from;
  std::memcpy(moved.data, at, old_bytes);
  if (h.kind == Kind::kSharedFile)
    (void)fill_from_file(moved.data + old_bytes, new_bytes - old_bytes, h.fd,
                         static_cast<off_t>(h.file_offset + from + old_bytes));
  unmap_part(m, from, from + old_bytes);
  return moved.data;
}

int program_mprotect(void* at, std::size_t length, int prot) {
  if (!in_global_space(at) || !global_mappings())
    return static_cast<int>(local_call(SYS_mprotect, sys::arg(at), static_cast<long>(length), prot));
  if (!page_aligned(at)) return static_cast<int>(fail(EINVAL));
  if (prot & ~(PROT_READ | PROT_WRITE | PROT_EXEC | PROT_GROWSDOWN | PROT_GROWSUP))
    return static_cast<int>(fail(EINVAL));
  if (prot & PROT_EXEC) {
    say_refused("mprotect", "PROT_EXEC on memory of the global space",
                "the coherence protocol sets its pages' protections; map code with PROT_EXEC in mmap "
                "(node-local)",
                "EACCES");
    return static_cast<int>(fail(EACCES));
  }
  // Recorded, not enforced: the coherence protocol owns the pages'
  // protections on every node (docs/user-guide.md, "Memory").
  Held<FutexLock> hold(g_changing);
  if (const Mapping m = find_mapping(at)) m.header->prot = static_cast<std::uint32_t>(prot);
  return 0;
}

int program_madvise(void* at, std::size_t length, int advice) {
  if (!in_global_space(at) || !global_mappings())
    return static_cast<int>(local_call(SYS_madvise, sys::arg(at), static_cast<long>(length), advice));
  std::size_t bytes;
  if (!page_aligned(at) || !round_to_pages(length, &bytes) || range_wraps(at, bytes))
    return static_cast<int>(fail(EINVAL));
  if (advice != MADV_DONTNEED && advice != MADV_REMOVE) return 0;  // hints only
  // Zeros afterwards, on every node: MADV_DONTNEED of a private anonymous
  // mapping, MADV_REMOVE of a shared one (it punches the shared memory).
  const Kind zeroed = advice == MADV_DONTNEED ? Kind::kAnonymousPrivate : Kind::kAnonymousShared;
  Held<FutexLock> hold(g_changing);
  auto* const from = static_cast<std::byte*>(at);
  std::byte* const to = from + bytes;
  each_mapping(from, to, [&](const Mapping& m) {
    std::byte* const low = m.data + m.header->low;
    std::byte* const high = m.data + m.header->high;
    std::byte* const first = from > low ? from : low;
    std::byte* const last = to < high ? to : high;
    if (m.header->kind == zeroed && first < last)
      std::memset(first, 0, static_cast<std::size_t>(last - first));
  });
  return 0;
}

int program_msync(void* at, std::size_t length, int flags) {
  // A child of fork() has a private copy of the global space, no longer
  // coherent; its msync still writes its copy back (its exit does not).
  const bool child = rt::state().fork_child && galloc::space().heap && galloc::space().contains(at);
  if (!child && (!in_global_space(at) || !global_mappings()))
    return static_cast<int>(local_call(SYS_msync, sys::arg(at), static_cast<long>(length), flags));
  // The kernel's checks, in its order.
  if (!page_aligned(at)) return static_cast<int>(fail(EINVAL));
  if ((flags & ~(MS_ASYNC | MS_INVALIDATE | MS_SYNC)) || ((flags & MS_ASYNC) && (flags & MS_SYNC)))
    return static_cast<int>(fail(EINVAL));
  std::size_t bytes;
  if (!round_to_pages(length, &bytes) || range_wraps(at, bytes)) return static_cast<int>(fail(ENOMEM));
  if (bytes == 0) return 0;
  // MS_ASYNC writes at once too (the origin's page cache has it when this
  // returns); MS_INVALIDATE has nothing to drop: the block is the mapping.
  Held<FutexLock> hold(g_changing);
  auto* const from = static_cast<std::byte*>(at);
  const long error = sync_range(from, from + bytes, flags & MS_SYNC);
  return error ? static_cast<int>(fail(error)) : 0;
}

// brk and sbrk would need one break for the whole job, moved by any node:
// refused (as musl always does), so that allocators fall back to mmap.
void say_no_break() {
  static std::atomic<bool> told{false};
  if (!told.exchange(true))
    say_refused("brk/sbrk", "moving the program break",
                "the break is one process's; use malloc or mmap, whose memory every node sees", "ENOMEM");
}

}  // namespace
}  // namespace gpt::shim

using namespace gpt::shim;

#ifdef __GLIBC__
#define GPT_PROGRAM(ret, name, params)                  \
  GPT_API ret gpt_program_##name params __asm__(#name); \
  ret gpt_program_##name params
#else
#define GPT_PROGRAM(ret, name, params) GPT_API ret __wrap_##name params
#endif

GPT_PROGRAM(void*, mmap, (void* at, size_t length, int prot, int flags, int fd, off_t offset)) {
  return program_mmap(at, length, prot, flags, fd, offset);
}
GPT_PROGRAM(int, munmap, (void* at, size_t length)) { return program_munmap(at, length); }
GPT_PROGRAM(void*, mremap, (void* old, size_t old_length, size_t new_length, int flags, ...)) {
  void* new_at = nullptr;
  if (flags & MREMAP_FIXED) {
    va_list ap;
    va_start(ap, flags);
    new_at = va_arg(ap, void*);
    va_end(ap);
  }
  return program_mremap(old, old_length, new_length, flags, new_at);
}
GPT_PROGRAM(int, mprotect, (void* at, size_t length, int prot)) { return program_mprotect(at, length, prot); }
GPT_PROGRAM(int, madvise, (void* at, size_t length, int advice)) {
  return program_madvise(at, length, advice);
}
GPT_PROGRAM(int, msync, (void* at, size_t length, int flags)) { return program_msync(at, length, flags); }
GPT_PROGRAM(int, brk, (void* end)) {
  (void)end;
  say_no_break();
  errno = ENOMEM;
  return -1;
}
GPT_PROGRAM(void*, sbrk, (intptr_t increment)) {
  const long now = gpt::sys::call(SYS_brk, 0);
  if (increment == 0) return reinterpret_cast<void*>(now);
  say_no_break();
  errno = ENOMEM;
  return reinterpret_cast<void*>(-1);
}
#ifdef __GLIBC__
// What glibc's headers turn mmap into with _FILE_OFFSET_BITS=64.
GPT_PROGRAM(void*, mmap64, (void* at, size_t length, int prot, int flags, int fd, off_t offset)) {
  return program_mmap(at, length, prot, flags, fd, offset);
}
#endif
