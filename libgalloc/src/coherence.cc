// Release and acquire (docs/coherence.md), the application's half.
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

void release_with(channel::Op op) {
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
  if (n == 0) return;
  // Write-protect first: writes after this fault and wait until the agent
  // has taken the diff, then start a new twin.
  for (std::uint64_t i = 0; i < n; ++i) {
    std::uint64_t page = s.flushing[i];
    std::uint32_t was = claim(page, bit(kDirty));
    if (was != kDirty) rt::die("internal error: a page on the dirty list is not dirty", 134);
    protect(page, PROT_READ);
  }
  channel::Client client(rt::state().channel);
  for (std::uint64_t done = 0; done < n; done += kPagesPerCall) {
    std::uint64_t count = n - done < kPagesPerCall ? n - done : kPagesPerCall;
    std::uint64_t epoch = 0;
    auto r = client.call(op, s.flushing + done, count * sizeof(std::uint64_t), &epoch, sizeof epoch);
    if (r.status != 0) agent_failed("release", r.status);
  }
  for (std::uint64_t i = 0; i < n; ++i) settle(s.flushing[i], kValid);
}

}  // namespace

void release() {
  if (space().coherent) release_with(channel::Op::kRelease);
}

// Asks the agent for the write notices (kAcquire, or kBarrier which waits
// for every node first) and invalidates the pages they name.
static void acquire_with(channel::Op op, const char* what) {
  GlobalSpace& s = space();
  header().acquires.fetch_add(1, std::memory_order_relaxed);
  channel::Client client(rt::state().channel);
  // The list lives on the stack: 16 KiB, within any thread's stack.
  std::uint64_t pages[kPagesPerCall];
  auto r = client.call(op, nullptr, 0, pages, sizeof pages);
  if (r.status < 0) agent_failed(what, r.status);
  const bool all = r.status == channel::kAcquireAll;
  const std::uint64_t listed = all ? 0 : r.length / sizeof(std::uint64_t);
  // Dirty pages among them hold another local thread's unreleased writes:
  // release those first, then invalidate. Repeats while threads keep
  // dirtying the pages (each pass releases what it finds).
  for (;;) {
    bool found_dirty = false;
    if (all) {
      for (std::uint64_t p = 0; p < s.geometry.page_count(); ++p)
        if (!s.is_home(p) && s.geometry.home_of_page(p) < s.geometry.node_count &&
            s.geometry.address_of_page(p) != 0 &&
            s.states[p].load(std::memory_order_relaxed) != kInvalid && !invalidate(p))
          found_dirty = true;
    } else {
      for (std::uint64_t i = 0; i < listed; ++i)
        if (!invalidate(pages[i])) found_dirty = true;
    }
    if (!found_dirty) return;
    release();
  }
}

void acquire() {
  if (space().coherent) acquire_with(channel::Op::kAcquire, "acquire");
}

void barrier_all() {
  if (!space().coherent) return;
  release_with(channel::Op::kReleaseForBarrier);
  acquire_with(channel::Op::kBarrier, "barrier");
}

}  // namespace gpt::galloc
