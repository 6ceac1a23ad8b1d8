// Release and acquire (docs/coherence.md), the application's half.
#include <errno.h>
#include <sys/mman.h>

#include <algorithm>
#include <cstring>

#include "coherence.h"
#include "context.h"
#include "diag.h"
#include "galloc.h"
#include "global_space.h"
#include "heap/thread_cache.h"
#include "gpt/channel_client.h"
#include "page_ops.h"
#include "runtime.h"
#include "signal_deferral.h"
#include "thread_state.h"
#include "local_memory.h"

namespace gpt::galloc {
namespace {

constexpr std::size_t kPagesPerCall = channel::kSlotPayload / sizeof(std::uint64_t);
// An entry of an acquire answer's list whose page got its copy instead.
constexpr std::uint64_t kInstalled = ~std::uint64_t{0};
// Pages invalidated together (claimed at once, protected by runs): bounded
// so that their lists fit on the stack.
constexpr std::uint64_t kInvalidateChunk = 128;

channel::Header& header() { return rt::state().channel->header; }

[[noreturn]] void agent_failed(const char* what, int status) {
  rt::diag().text(what).text(" failed (agent status ").num(status).text(")").emit();
  _exit(134);
}

// Invalidates the listed pages that are not dirty (skipping kInstalled
// ones); returns false if some were dirty (their writes must be released
// first). All of them are claimed before any is protected, so neighbouring
// pages cost one mprotect; claims are taken in ascending page order, so two
// threads invalidating at once cannot each hold a page the other waits for
// (nobody else waits for a claim while holding one it could not take at
// once).
bool invalidate_chunk(const std::uint64_t* pages, std::uint64_t n) {
  std::uint64_t claimed[kInvalidateChunk], valid[kInvalidateChunk];
  std::uint64_t n_claimed = 0, n_valid = 0;
  for (std::uint64_t i = 0; i < n; ++i)
    if (pages[i] != kInstalled) claimed[n_claimed++] = pages[i];
  std::sort(claimed, claimed + n_claimed);
  n_claimed = static_cast<std::uint64_t>(std::unique(claimed, claimed + n_claimed) - claimed);
  bool all = true;
  std::uint64_t kept = 0;
  for (std::uint64_t i = 0; i < n_claimed; ++i) {
    // An invalid page is claimed too: another thread may be about to
    // install a copy of it from an earlier acquire answer, older than this
    // notice.
    const std::uint32_t was = claim(claimed[i], bit(kValid) | bit(kInvalid));
    if (was == kDirty) {
      // Written here and maybe kept writable: the next release must
      // write-protect it and send its diff before it can be dropped.
      if (!space().is_home(claimed[i]))
        space().sole[claimed[i]].fetch_or(sole_copy::kFlushNext | sole_copy::kContended, std::memory_order_relaxed);
      all = false;
      continue;
    }
    if (was == kGuard) continue;  // never read here; invalid once the guard goes (unguard_stack)
    claimed[kept++] = claimed[i];
    if (was == kValid) valid[n_valid++] = claimed[i];
  }
  protect_all(valid, n_valid, PROT_NONE);
  header().invalidations.fetch_add(n_valid, std::memory_order_relaxed);
  // Before the pages settle, so that such a copy is refused
  // (install_copies checks the generation after its claim).
  space().content_generation.fetch_add(1, std::memory_order_acq_rel);
  for (std::uint64_t i = 0; i < kept; ++i) settle(claimed[i], kInvalid);
  return all;
}

}  // namespace

namespace {

// One release: `op` (kRelease or kUnlockReleased, whose
// request starts with `head`) for the last pages, kRelease for any before.
struct ReleaseCall {
  channel::Op op;
  const void* head = nullptr;
  std::size_t head_len = 0;
  int status = 0;  // of the `op` call
  bool only_if_dirty = false;  // no pages: no call (else `op` goes alone)
  bool called = false;         // `op` was sent
  bool keep_writable = true;   // false: every dirty page is write-protected and released
};

// A page homed elsewhere is write-protected and released: its hints start
// over, and a contended one counts towards being kept writable again.
void note_flushed(sole_copy::Mark& mark) {
  using namespace sole_copy;
  std::uint8_t m = mark.load(std::memory_order_relaxed), next;
  do {
    next = static_cast<std::uint8_t>(m & ~(kQuietMask | kFlushNext));
    if ((m & kContended) && !(m & kFlushNext)) {
      const std::uint8_t flushes = static_cast<std::uint8_t>(quiet_releases(m) + 1);
      if (flushes >= kUncontendedReleases) next = static_cast<std::uint8_t>(next & ~kContended);
      else next = static_cast<std::uint8_t>(next | flushes * kQuietOne);
    }
  } while (!mark.compare_exchange_weak(m, next, std::memory_order_relaxed));
}

struct TakenPages {
  std::uint64_t protect = 0;  // flushing[0, protect): write-protected, then valid
  std::uint64_t notice = 0;   // flushing[0, notice): sent to the agent (notice or diff)
};

// Takes the dirty list into `flushing`, leaving on it the pages that stay
// writable (docs/coherence.md, "Exclusive pages" and "Written pages stay
// writable"; gpt/sole_copy.h):
//  - home pages noticed and not sent since: no protection, twin, diff or
//    notice;
//  - home pages never noticed nor sent, whose only other copies are the
//    image every node started from: their notice goes, but nothing another
//    node could hold misses a later write, so they stay writable;
//  - pages homed elsewhere, unless the agent found their last diffs empty
//    (they went quiet) or another node writes them too: their
//    diff goes, taken by the agent from one snapshot that becomes the twin,
//    so a write racing with it is in the diff or in the next one.
// Pages that stay writable but are sent to the agent are listed after the
// protected ones. The others are write-protected and released. Every
// released home page is marked noticed (and not sent) before its notice
// goes: every copy sent before then will be outdated by that notice.
TakenPages take_dirty_list(GlobalSpace& s, bool keep_writable) {
  Held<FutexLock> hold(s.dirty_lock);
  // Every write made before this point is either in a copy the agent sent
  // or seen by it as a mark (the agent fences between the two).
  std::atomic_thread_fence(std::memory_order_seq_cst);
  TakenPages taken;
  std::uint64_t kept = 0;
  // Pages sent but kept writable wait at the far end of `flushing`.
  const std::uint64_t far_end = s.dirty_count;
  std::uint64_t sent_kept = 0;
  auto keep = [&](std::uint64_t page, bool send) {
    s.dirty[kept++] = page;
    if (send) s.flushing[far_end - 1 - sent_kept++] = page;
  };
  for (std::uint64_t i = 0; i < s.dirty_count; ++i) {
    const std::uint64_t page = s.dirty[i];
    const std::uint8_t mark = s.sole[page].load(std::memory_order_relaxed);
    if (!s.is_home(page)) {
      if (keep_writable && !(mark & (sole_copy::kFlushNext | sole_copy::kContended)) &&
          sole_copy::quiet_releases(mark) < sole_copy::kQuietReleases) {
        keep(page, true);
        continue;
      }
      note_flushed(s.sole[page]);
      s.flushing[taken.protect++] = page;
      continue;
    }
    if (keep_writable && sole_copy::sole(mark)) {
      keep(page, false);
      continue;
    }
    s.sole[page].store(sole_copy::kNoticed, std::memory_order_relaxed);
    if (keep_writable && mark == 0) {
      keep(page, true);
      continue;
    }
    s.flushing[taken.protect++] = page;
  }
  s.dirty_count = kept;
  // Close the gap: the pages kept but sent follow the protected ones.
  std::copy(s.flushing + far_end - sent_kept, s.flushing + far_end, s.flushing + taken.protect);
  taken.notice = taken.protect + sent_kept;
  header().sole_pages_kept.fetch_add(kept, std::memory_order_relaxed);
  return taken;
}

void release_with(ReleaseCall& call) {
  GlobalSpace& s = space();
  flush_remote_frees();
  Held<FutexLock> one_release_at_a_time(s.release_lock);
  const TakenPages taken = take_dirty_list(s, call.keep_writable);
  header().releases.fetch_add(1, std::memory_order_relaxed);
  channel::Client client(rt::state().channel);
  const std::uint64_t head_pages = (call.head_len + sizeof(std::uint64_t) - 1) / sizeof(std::uint64_t);
  const std::uint64_t n = taken.notice;
  if (n == 0) {
    if (call.head && !call.only_if_dirty) {
      call.status = client.call(call.op, call.head, call.head_len, nullptr, 0, nullptr, 0).status;
      call.called = true;
    }
    return;
  }
  // Write-protect first: writes after this fault and wait until the agent
  // has taken the diff, then start a new twin.
  for (std::uint64_t i = 0; i < taken.protect; ++i) {
    std::uint32_t was = claim(s.flushing[i], bit(kDirty));
    if (was != kDirty) rt::die("internal error: a page on the dirty list is not dirty", 134);
  }
  protect_all(s.flushing, taken.protect, PROT_READ);
  const std::uint64_t per_call = kPagesPerCall - head_pages;
  for (std::uint64_t done = 0; done < n; done += per_call) {
    const std::uint64_t count = n - done < per_call ? n - done : per_call;
    const bool last = done + count == n;
    const channel::Op op = last ? call.op : channel::Op::kRelease;
    channel::ReleaseReply released;  // its epoch is node 0's business here
    auto r = client.call(op, last ? call.head : nullptr, last ? call.head_len : 0, s.flushing + done,
                         count * sizeof(std::uint64_t), &released, sizeof released);
    if (last) {
      call.status = r.status;
      call.called = true;
    }
    if (r.status != 0 && !(last && call.head)) agent_failed("release", r.status);
  }
  s.content_generation.fetch_add(1, std::memory_order_acq_rel);
  for (std::uint64_t i = 0; i < taken.protect; ++i) settle(s.flushing[i], kValid);
}

}  // namespace

// A thread whose stack is global memory (main, gpthread threads) must not
// run release on it: release write-protects the dirty pages, its own stack
// page among them, and a write to that page would then wait for the very
// release that is running. Nor invalidation: it claims the listed pages
// before it protects and settles them, and a stack page of the thread can
// be on the list (a vehicle slot another node's thread used before); a
// write to it would wait for the thread's own claim. So both run on a
// private stack of the thread.
thread_local std::byte* t_private_stack __attribute__((tls_model("initial-exec")));
constexpr std::size_t kPrivateStackBytes = 64 * 1024;

void on_private_stack(void (*fn)(void*), void* arg) {
  rt::CriticalSection no_program_handlers;  // base/signal_deferral.h
  std::uintptr_t sp = reinterpret_cast<std::uintptr_t>(__builtin_frame_address(0));
  if (!space().contains(reinterpret_cast<void*>(sp))) {
    fn(arg);
    return;
  }
  if (!t_private_stack) {
    void* p = rt::map_local(nullptr, kPrivateStackBytes, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) rt::die("cannot map a private stack for release and invalidation", 134);
    t_private_stack = static_cast<std::byte*>(p);
  }
  gpt_call_on_private(t_private_stack + kPrivateStackBytes, fn, arg);
}

void release_on_private(ReleaseCall& call) {
  // `call` may be on the global stack, which the release write-protects:
  // work on a copy and write the status back once the pages are settled.
  on_private_stack(
      [](void* arg) {
        ReleaseCall copy = *static_cast<ReleaseCall*>(arg);
        release_with(copy);
        static_cast<ReleaseCall*>(arg)->status = copy.status;
        static_cast<ReleaseCall*>(arg)->called = copy.called;
      },
      &call);
}

void release_on_private(channel::Op op) {
  ReleaseCall call{op};
  release_on_private(call);
}

void release() {
  if (space().tracks_writes()) release_on_private(channel::Op::kRelease);
}

void release_all() {
  if (!space().tracks_writes()) return;
  ReleaseCall call{channel::Op::kRelease};
  call.keep_writable = false;
  release_on_private(call);
}

FusedCall release_fused(channel::Op op, const void* request, std::size_t length, bool only_if_dirty) {
  if (!space().tracks_writes()) return {};
  ReleaseCall call{op, request, length};
  call.only_if_dirty = only_if_dirty;
  release_on_private(call);
  return {call.status, call.called};
}

void leave_thread() {
  return_thread_cache();
  if (t_private_stack) rt::unmap_local(t_private_stack, kPrivateStackBytes);
  t_private_stack = nullptr;
}

void forget_thread_state() {
  forget_thread_cache();
  t_private_stack = nullptr;
}

// Invalidates the listed pages. Dirty ones hold another local thread's
// unreleased writes: those are released first, then the page is dropped, so
// an invalidation never loses a local write. Repeats while threads keep
// dirtying the pages (each pass releases what it finds).
static void invalidate_all_here(const std::uint64_t* pages, std::uint64_t n) {
  for (;;) {
    bool found_dirty = false;
    for (std::uint64_t at = 0; at < n; at += kInvalidateChunk)
      if (!invalidate_chunk(pages + at, n - at < kInvalidateChunk ? n - at : kInvalidateChunk)) found_dirty = true;
    if (!found_dirty) return;
    release_on_private(channel::Op::kRelease);
  }
}

static void invalidate_all(const std::uint64_t* pages, std::uint64_t n) {
  struct Args {
    const std::uint64_t* pages;  // in the channel slot, not on a stack
    std::uint64_t n;
  } args{pages, n};
  on_private_stack(
      [](void* arg) {
        const Args a = *static_cast<Args*>(arg);
        invalidate_all_here(a.pages, a.n);
      },
      &args);
}

// Installs the page copies an acquire answer carries (docs/coherence.md,
// "page copies") and marks them kInstalled in the answer's list, so they
// are not invalidated. A copy is stale for this node if a release, fetch,
// invalidation or install here moved the page on since `generation` was
// read (before the call): then it is skipped and the page invalidated as
// usual.
static void install_copies(std::uint64_t* pages, std::uint64_t count, const std::uint64_t* copy_pages,
                           const std::byte* bytes, std::uint64_t copies, std::uint64_t generation) {
  GlobalSpace& s = space();
  rt::CriticalSection no_program_handlers;
  Held<FutexLock> no_release_meanwhile(s.release_lock);
  for (std::uint64_t c = 0; c < copies; ++c) {
    if (s.content_generation.load(std::memory_order_acquire) != generation) return;
    const std::uint64_t page = copy_pages[c];
    std::uint64_t* listed = nullptr;
    for (std::uint64_t i = 0; i < count && !listed; ++i)
      if (pages[i] == page) listed = &pages[i];
    if (!listed || page >= s.geometry.page_count() || s.geometry.home_of_page(page) == s.self) continue;
    std::uint32_t was = kValid;
    if (!try_claim(page, kValid)) {
      was = kInvalid;
      if (!try_claim(page, kInvalid)) continue;  // dirty or busy: invalidate it as usual
    }
    // A fetch that settled just before our claim bumped the generation
    // first: look again now that nobody else can change the page.
    if (s.content_generation.load(std::memory_order_acquire) != generation) {
      settle(page, was);
      return;
    }
    // Through the memory file, not our mapping: made writable for the copy,
    // the page would take other threads' writes without a fault, and those
    // writes would be lost (never dirty, never released).
    const long wrote = sys::call(SYS_pwrite64, s.memory_fd, sys::arg(bytes + c * region::kPageSize),
                                 static_cast<long>(region::kPageSize),
                                 static_cast<long>(s.geometry.page_offset(page)));
    if (wrote != static_cast<long>(region::kPageSize)) {  // out of memory: fetch it later instead
      if (was == kValid) protect(page, PROT_NONE);
      settle(page, kInvalid);
      continue;
    }
    if (was == kInvalid) protect(page, PROT_READ);
    generation = s.content_generation.fetch_add(1, std::memory_order_acq_rel) + 1;
    settle(page, kValid);
    *listed = kInstalled;
    header().copies_installed.fetch_add(1, std::memory_order_relaxed);
  }
}

// What the first reply to an acquire (channel_ops.h AcquireAnswerHead)
// leaves to do: `listed` of its `total` pages came with it.
struct Answer {
  std::uint64_t cursor = 0, total = 0, epoch = 0, listed = 0;
};

// Applies the answer where it lies in the slot.
static Answer apply_answer(unsigned char* payload, std::uint32_t length, std::uint64_t generation,
                           const char* what) {
  channel::AcquireAnswer a;
  if (!channel::read_acquire_answer(payload, length, a)) agent_failed(what, -EPROTO);
  if (!a.copy_pages.empty())
    install_copies(a.pages.data(), a.pages.size(), a.copy_pages.data(),
                   reinterpret_cast<const std::byte*>(a.copy_bytes), a.copy_pages.size(), generation);
  invalidate_all(a.pages.data(), a.pages.size());
  return Answer{a.head.cursor, a.head.total, a.head.epoch, a.pages.size()};
}

// Only now may the agent stop listing pages noticed up to `epoch` to this
// node's acquires.
static void mark_applied(std::uint64_t epoch) {
  auto& applied = header().acquired_epoch;
  std::uint64_t seen = applied.load(std::memory_order_relaxed);
  while (seen < epoch && !applied.compare_exchange_weak(seen, epoch, std::memory_order_release,
                                                        std::memory_order_relaxed)) {
  }
}

std::uint64_t copy_generation() { return space().content_generation.load(std::memory_order_acquire); }

// Asks the agent for the write notices (kAcquire, or kBarrier which waits
// for every node first) and invalidates the pages they name. A long list
// comes in several replies (kAcquireMore). Replies are read in the slot.
static void acquire_with(channel::Op op, const char* what, bool token) {
  header().acquires.fetch_add(1, std::memory_order_relaxed);
  channel::Client client(rt::state().channel);
  const std::uint64_t generation = copy_generation();
  const channel::AcquireRequest synced{1};
  Answer a;
  (void)client.call_in_place(op, token ? &synced : nullptr, token ? sizeof synced : 0, nullptr, 0,
                             [&](std::int32_t status, unsigned char* payload, std::uint32_t length) {
                               if (status < 0) agent_failed(what, status);
                               a = apply_answer(payload, length, generation, what);
                             });
  for (std::uint64_t done = a.listed; done < a.total;) {
    const channel::AcquireMoreRequest more{a.cursor, done};
    (void)client.call_in_place(channel::Op::kAcquireMore, &more, sizeof more, nullptr, 0,
                               [&](std::int32_t status, unsigned char* payload, std::uint32_t length) {
                                 if (status < 0 || length == 0) agent_failed(what, status);
                                 channel::Words<std::uint64_t> pages;
                                 if (!channel::split_words(payload, length, pages)) agent_failed(what, -EPROTO);
                                 invalidate_all(pages.data(), pages.size());
                                 done += pages.size();
                               });
  }
  mark_applied(a.epoch);
}

void apply_acquire_answer(unsigned char* answer, std::uint32_t length, std::uint64_t generation) {
  if (!space().tracks_writes()) return;
  header().acquires.fetch_add(1, std::memory_order_relaxed);
  Answer a = apply_answer(answer, length, generation, "acquire");
  if (a.cursor != 0 || a.listed != a.total)
    rt::die("internal error: a lock reply carried a partial acquire answer", 134);
  mark_applied(a.epoch);
}

void acquire() {
  if (space().tracks_writes()) acquire_with(channel::Op::kAcquire, "acquire", false);
}

void acquire_synced() {
  if (space().tracks_writes()) acquire_with(channel::Op::kAcquire, "acquire", true);
}

void barrier_all() {
  if (!space().tracks_writes()) return;
  // The agent arrives at the barrier as soon as the release is on its way:
  // the barrier's round trip overlaps the kBarrier call that joins it.
  release_on_private(channel::Op::kReleaseForBarrier);
  acquire_with(channel::Op::kBarrier, "barrier", false);
}

}  // namespace gpt::galloc
