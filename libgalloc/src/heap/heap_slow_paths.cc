#include <sys/mman.h>
#include <time.h>

#include <cstring>

#include "diag.h"
#include "global_space.h"
#include "gpt/channel_client.h"
#include "runtime.h"
#include "thread_cache.h"
#include "thread_state.h"
#include "local_memory.h"

#include <stdlib.h>

namespace gpt::galloc {

thread_local ThreadCache* t_cache __attribute__((tls_model("initial-exec")));

namespace {
constexpr std::size_t kCacheBytes = (sizeof(ThreadCache) + 4095) & ~std::size_t{4095};
}

ThreadCache* try_map_thread_cache() {
  // Mapped, not malloc'd: this is malloc's own state (and async-signal-safe).
  void* p = rt::map_local(nullptr, kCacheBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return nullptr;
  t_cache = static_cast<ThreadCache*>(p);
  return t_cache;
}

ThreadCache& map_thread_cache() {
  ThreadCache* c = try_map_thread_cache();
  if (!c) rt::die("cannot map a thread's allocation cache (out of address space: RLIMIT_AS?)", 134);
  return *c;
}

void ensure_thread_cache() { (void)try_thread_cache(); }

namespace {
FutexLock g_inbox_lock;
}

void* refill_and_allocate(std::size_t c) {
  drain_inbox();
  ThreadCache& tc = thread_cache();
  FreeObject* list = nullptr;
  std::size_t got = node_heap().take(c, &list, batch_for(c));
  while (got == 0 && drain_held_frees()) got = node_heap().take(c, &list, batch_for(c));
  if (got == 0) return nullptr;
  FreeObject* first = list;
  tc.head[c] = first->next;
  tc.count[c] = static_cast<std::uint32_t>(got - 1);
  first->key = 0;
  return first;
}

void flush_class(std::size_t c) {
  ThreadCache& tc = thread_cache();
  // Return the older half; keep the recently freed (cache-warm) objects.
  std::size_t keep = batch_for(c);
  FreeObject* o = tc.head[c];
  for (std::size_t i = 1; i < keep && o; ++i) o = o->next;
  if (!o) return;
  FreeObject* rest = o->next;
  o->next = nullptr;
  tc.count[c] = static_cast<std::uint32_t>(keep);
  node_heap().give_back(c, rest);
}

void return_thread_cache() {
  if (!t_cache) return;
  ThreadCache& tc = *t_cache;
  for (std::size_t c = 0; c < kClassCount; ++c) {
    if (tc.head[c]) node_heap().give_back(c, tc.head[c]);
    tc.head[c] = nullptr;
    tc.count[c] = 0;
  }
  flush_remote_frees();
  rt::unmap_local(t_cache, kCacheBytes);
  t_cache = nullptr;
}

void forget_thread_cache() { t_cache = nullptr; }

void add_remote_free(std::uintptr_t p) {
  ThreadCache& tc = thread_cache();
  tc.remote[tc.remote_count++] = p;
  if (tc.remote_count == kRemoteBatch) flush_remote_frees();
}

void flush_remote_frees() {
  ThreadCache& tc = thread_cache();
  if (tc.remote_count == 0 || !rt::state().channel) {
    tc.remote_count = 0;
    return;
  }
  const region::Geometry& g = space().geometry;
  // One message per home: gather that home's pointers, send, repeat.
  std::uint64_t pointers[kRemoteBatch];
  std::uint32_t left = tc.remote_count;
  std::uint64_t* ptrs = tc.remote;
  channel::Client client(rt::state().channel);
  while (left) {
    std::uint32_t home = g.home_of_page(g.page_of(ptrs[0]));
    std::uint32_t n = 0, kept = 0;
    for (std::uint32_t i = 0; i < left; ++i) {
      if (g.home_of_page(g.page_of(ptrs[i])) == home) pointers[n++] = ptrs[i];
      else ptrs[kept++] = ptrs[i];
    }
    const channel::RemoteFreeHead head{home, 0};
    auto r = client.call(channel::Op::kRemoteFree, &head, sizeof head, pointers, n * sizeof(std::uint64_t),
                         nullptr, 0);
    if (r.status != 0) rt::die("cannot send frees of another node's memory home", 134);
    rt::state().channel->header.remote_frees_sent.fetch_add(n, std::memory_order_relaxed);
    rt::state().channel->header.remote_free_batches.fetch_add(1, std::memory_order_relaxed);
    left = kept;
  }
  tc.remote_count = 0;
}

std::size_t drain_inbox() {
  auto* ch = rt::state().channel;
  if (!ch) return 0;
  auto& inbox = ch->inbox;
  if (inbox.tail.load(std::memory_order_relaxed) == inbox.head.load(std::memory_order_acquire)) return 0;
  Held<FutexLock> hold(g_inbox_lock);
  std::uint64_t tail = inbox.tail.load(std::memory_order_relaxed);
  const std::uint64_t head = inbox.head.load(std::memory_order_acquire);
  const std::uint64_t taken = head - tail;
  NodeHeap& heap = node_heap();
  for (; tail != head; ++tail) {
    const std::uint64_t entry = inbox.ring[tail % channel::kInboxEntries];
    const std::uint64_t p = channel::remote_free_pointer(entry);
    const char* why = heap.layout().base <= p && p - heap.layout().base < heap.layout().chunks * kChunkBytes
                          ? heap.free_from_remote(p)
                          : "not in this node's partition";
    if (why) {
      ch->header.bad_remote_frees.fetch_add(1, std::memory_order_relaxed);
      bad_remote_free(reinterpret_cast<void*>(p), channel::remote_free_node(entry), why);
    }
    ch->header.remote_frees_received.fetch_add(1, std::memory_order_relaxed);
  }
  inbox.tail.store(tail, std::memory_order_release);
  return taken;
}

bool drain_held_frees() {
  auto* ch = rt::state().channel;
  if (!ch) return false;
  // The agent moves what it holds into the inbox when woken: wake it and
  // give it a moment (this is the way to ENOMEM, not a fast path).
  constexpr int kPolls = 40;
  constexpr long kPollNanoseconds = 50'000;
  bool any = false;
  for (int idle = 0; idle < kPolls;) {
    if (drain_inbox()) {
      any = true;
      idle = 0;
      continue;
    }
    if (idle++ == 0) channel::ring_agent(*ch);
    struct timespec pause = {0, kPollNanoseconds};
    (void)sys::call(SYS_nanosleep, sys::arg(&pause), 0);
  }
  return any;
}

void bad_remote_free(const void* p, std::uint32_t node, const char* why) {
  rt::diag()
      .text("free() on node ")
      .num(node)
      .text(": invalid pointer ")
      .hex(reinterpret_cast<std::uintptr_t>(p))
      .text(": ")
      .text(why)
      .text(" (found by this node, the memory's home)")
      .emit();
  abort();
}

void take_remote_frees() { (void)drain_inbox(); }

void hold_heap_for_fork() {
  g_inbox_lock.lock();  // drain_inbox takes it around the class locks
  node_heap().lock_for_fork();
}

void release_heap_after_fork() {
  node_heap().unlock_after_fork();
  g_inbox_lock.unlock();
}

namespace {
// As the process exits (exit() or main's return): frees sent before the
// exiting thread synchronised with their makers are in the inbox by now.
__attribute__((destructor)) void take_remote_frees_at_exit() { take_remote_frees(); }
}  // namespace

void bad_pointer(const char* call, const void* p, const char* why) {
  rt::diag()
      .text(call)
      .text("(): invalid pointer ")
      .hex(reinterpret_cast<std::uintptr_t>(p))
      .text(": ")
      .text(why)
      .emit();
  abort();
}

}  // namespace gpt::galloc
