// Release and acquire (docs/coherence.md), the application's half.
#include <errno.h>
#include <sys/mman.h>

#include <cstring>

#include "coherence.h"
#include "diag.h"
#include "galloc.h"
#include "global_space.h"
#include "heap/thread_cache.h"
#include "gpt/channel_client.h"
#include "page_ops.h"
#include "runtime.h"
#include "thread_state.h"

namespace gpt::galloc {
namespace {

constexpr std::size_t kPagesPerCall = channel::kSlotPayload / sizeof(std::uint64_t);

channel::Header& header() { return rt::state().channel->header; }

[[noreturn]] void agent_failed(const char* what, int status) {
  rt::diag().text(what).text(" failed (agent status ").num(status).text(")").emit();
  _exit(134);
}

// Invalidates one page unless it is dirty; returns false if it was dirty
// (its writes must be released first).
bool invalidate(std::uint64_t page) {
  std::uint32_t was = claim(page, bit(kValid));
  if (was == kInvalid) return true;
  if (was == kDirty) return false;
  protect(page, PROT_NONE);
  settle(page, kInvalid);
  header().invalidations.fetch_add(1, std::memory_order_relaxed);
  return true;
}

}  // namespace

namespace {

// One release: `op` (kRelease, kReleaseForBarrier or kUnlockReleased, whose
// request starts with `head`) for the last pages, kRelease for any before.
struct ReleaseCall {
  channel::Op op;
  const void* head = nullptr;
  std::size_t head_len = 0;
  int status = 0;  // of the `op` call
};

void release_with(ReleaseCall& call) {
  GlobalSpace& s = space();
  flush_remote_frees();
  Held<FutexLock> one_release_at_a_time(s.release_lock);
  std::uint64_t n;
  {
    Held<FutexLock> hold(s.dirty_lock);
    n = s.dirty_count;
    if (n) std::memcpy(s.flushing, s.dirty, n * sizeof(std::uint64_t));
    s.dirty_count = 0;
  }
  header().releases.fetch_add(1, std::memory_order_relaxed);
  channel::Client client(rt::state().channel);
  const std::uint64_t head_pages = (call.head_len + sizeof(std::uint64_t) - 1) / sizeof(std::uint64_t);
  if (n == 0) {
    if (call.head) call.status = client.call(call.op, call.head, call.head_len, nullptr, 0, nullptr, 0).status;
    return;
  }
  // Write-protect first: writes after this fault and wait until the agent
  // has taken the diff, then start a new twin.
  for (std::uint64_t i = 0; i < n; ++i) {
    std::uint64_t page = s.flushing[i];
    std::uint32_t was = claim(page, bit(kDirty));
    if (was != kDirty) rt::die("internal error: a page on the dirty list is not dirty", 134);
    protect(page, PROT_READ);
  }
  const std::uint64_t per_call = kPagesPerCall - head_pages;
  for (std::uint64_t done = 0; done < n; done += per_call) {
    const std::uint64_t count = n - done < per_call ? n - done : per_call;
    const bool last = done + count == n;
    const channel::Op op = last ? call.op : channel::Op::kRelease;
    std::uint64_t epoch = 0;
    auto r = client.call(op, last ? call.head : nullptr, last ? call.head_len : 0, s.flushing + done,
                         count * sizeof(std::uint64_t), &epoch, sizeof epoch);
    if (last) call.status = r.status;
    if (r.status != 0 && !(last && call.head)) agent_failed("release", r.status);
  }
  for (std::uint64_t i = 0; i < n; ++i) settle(s.flushing[i], kValid);
}

}  // namespace

// A thread whose stack is global memory (main, gpthread threads) must not
// run release on it: release write-protects the dirty pages, its own stack
// page among them, and a write to that page would then wait for the very
// release that is running. So it runs on a private stack of the thread.
extern "C" void gpt_call_on_private(void* top, void (*fn)(void*), void* arg);

thread_local std::byte* t_private_stack __attribute__((tls_model("initial-exec")));
constexpr std::size_t kPrivateStackBytes = 64 * 1024;

void release_on_private(ReleaseCall& call) {
  std::uintptr_t sp = reinterpret_cast<std::uintptr_t>(__builtin_frame_address(0));
  if (!space().contains(reinterpret_cast<void*>(sp))) {
    release_with(call);
    return;
  }
  if (!t_private_stack) {
    void* p = mmap(nullptr, kPrivateStackBytes, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) rt::die("cannot map a private stack for release", 134);
    t_private_stack = static_cast<std::byte*>(p);
  }
  // `call` is on the global stack, which the release write-protects: work
  // on a copy and write the status back once the pages are settled.
  gpt_call_on_private(t_private_stack + kPrivateStackBytes,
                      [](void* arg) {
                        ReleaseCall copy = *static_cast<ReleaseCall*>(arg);
                        release_with(copy);
                        static_cast<ReleaseCall*>(arg)->status = copy.status;
                      },
                      &call);
}

void release_on_private(channel::Op op) {
  ReleaseCall call{op};
  release_on_private(call);
}

void release() {
  if (space().coherent) release_on_private(channel::Op::kRelease);
}

int release_and_unlock(const void* unlock_request, std::size_t length) {
  ReleaseCall call{channel::Op::kUnlockReleased, unlock_request, length};
  if (space().coherent) release_on_private(call);
  else call.status = channel::Client(rt::state().channel)
                         .call(call.op, unlock_request, length, nullptr, 0)
                         .status;
  if (call.status != 0 && call.status != -EPERM) agent_failed("unlock", call.status);
  return call.status;
}

void leave_thread() {
  return_thread_cache();
  if (t_private_stack) munmap(t_private_stack, kPrivateStackBytes);
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
static void invalidate_all(const std::uint64_t* pages, std::uint64_t n) {
  for (;;) {
    bool found_dirty = false;
    for (std::uint64_t i = 0; i < n; ++i)
      if (!invalidate(pages[i])) found_dirty = true;
    if (!found_dirty) return;
    release_on_private(channel::Op::kRelease);
  }
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

// Asks the agent for the write notices (kAcquire, or kBarrier which waits
// for every node first) and invalidates the pages they name. A long list
// comes in several replies (kAcquireMore).
static void acquire_with(channel::Op op, const char* what, bool token) {
  header().acquires.fetch_add(1, std::memory_order_relaxed);
  channel::Client client(rt::state().channel);
  // The list lives on the stack: 16 KiB, within any thread's stack.
  std::uint64_t buf[kPagesPerCall];
  const std::uint32_t token_flag = 1;
  auto r = token ? client.call(op, &token_flag, sizeof token_flag, buf, sizeof buf)
                 : client.call(op, nullptr, 0, buf, sizeof buf);
  if (r.status < 0 || r.length < 3 * sizeof(std::uint64_t)) agent_failed(what, r.status);
  const std::uint64_t cursor = buf[0], total = buf[1], epoch = buf[2];
  std::uint64_t got = r.length / sizeof(std::uint64_t) - 3;
  std::uint64_t done = 0;
  invalidate_all(buf + 3, got);
  done += got;
  while (done < total) {
    std::uint64_t req[2] = {cursor, done};
    auto more = client.call(channel::Op::kAcquireMore, req, sizeof req, buf, sizeof buf);
    if (more.status < 0 || more.length == 0) agent_failed(what, more.status);
    got = more.length / sizeof(std::uint64_t);
    invalidate_all(buf, got);
    done += got;
  }
  mark_applied(epoch);
}

void apply_acquire_answer(const std::uint64_t* answer, std::size_t length) {
  if (!space().coherent) return;
  header().acquires.fetch_add(1, std::memory_order_relaxed);
  const std::uint64_t words = length / sizeof(std::uint64_t);
  if (words < 3 || answer[0] != 0 || answer[1] != words - 3)
    rt::die("internal error: a lock reply carried a malformed acquire answer", 134);
  invalidate_all(answer + 3, words - 3);
  mark_applied(answer[2]);
}

void acquire() {
  if (space().coherent) acquire_with(channel::Op::kAcquire, "acquire", false);
}

void acquire_token() {
  if (space().coherent) acquire_with(channel::Op::kAcquire, "acquire", true);
}

void barrier_all() {
  if (!space().coherent) return;
  release_on_private(channel::Op::kReleaseForBarrier);
  acquire_with(channel::Op::kBarrier, "barrier", false);
}

}  // namespace gpt::galloc
