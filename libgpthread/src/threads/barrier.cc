// pthread barriers across nodes: arrival is a release, departure an
// acquire; the counting happens at the barrier's manager (the home of its
// page; tools/gpt-node/barriers.cc), or here while the manager lends this
// node the barrier (gpt/barrier_table.h): then nothing leaves the node and
// the threads meet as in one process. The barrier object holds only a
// magic and the count (every libc's pthread_barrier_t has room for them).
#include <errno.h>
#include <pthread.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <optional>

#include "coherence.h"
#include "global_space.h"
#include "gpt/profile.h"
#include "gpt/channel_client.h"
#include "gpt/futex.h"
#include "gpt/spin_wait.h"
#include "runtime.h"
#include "sync_common.h"

#define GPT_API extern "C" __attribute__((visibility("default")))

namespace {

constexpr std::uint32_t kBarrierMagic = 0x52414247;  // "GBAR"

// Its address names the calling thread to the agent (unique among the
// live threads of a node).
thread_local char t_barrier_token __attribute__((tls_model("initial-exec")));

struct Barrier {
  std::uint32_t magic;
  std::uint32_t count;
  // Used only without an agent (a one-node run): a local futex barrier.
  std::atomic<std::uint32_t> arrived;
  std::atomic<std::uint32_t> generation;
  // pthread_barrierattr_setpshared's: only a fork child looks (sync_common.h).
  std::uint32_t pshared;
};

int local_wait(Barrier* b) {
  std::uint32_t gen = b->generation.load(std::memory_order_acquire);
  if (b->arrived.fetch_add(1, std::memory_order_acq_rel) + 1 == b->count) {
    b->arrived.store(0, std::memory_order_relaxed);
    b->generation.fetch_add(1, std::memory_order_release);
    gpt::futex::wake_all(&b->generation);
    return PTHREAD_BARRIER_SERIAL_THREAD;
  }
  while (b->generation.load(std::memory_order_acquire) == gen) gpt::futex::wait(&b->generation, gen);
  return 0;
}
static_assert(sizeof(Barrier) <= sizeof(pthread_barrier_t));

// A wait at a barrier lent to this node; nullopt: ask the agent.
std::optional<int> lent_wait(const void* b, std::uint32_t count) {
  using namespace gpt::channel;
  BarrierEntry* e = find_barrier(gpt::rt::state().channel->barriers, reinterpret_cast<std::uintptr_t>(b));
  std::uint32_t s = 0;
  const LeasedArrival arrival = e ? arrive_leased(*e, count, &s) : LeasedArrival::kNotLeased;
  if (arrival == LeasedArrival::kNotLeased) return std::nullopt;
  if (arrival == LeasedArrival::kLast) {
    gpt::futex::wake_all(&e->state);
    return PTHREAD_BARRIER_SERIAL_THREAD;
  }
  const std::uint32_t generation = barrier_bits::generation(s);
  // Each arrival changes the word: the wait goes on until its generation does.
  s = spin_then_sleep(
      e->state, gpt::rt::state().channel->header.wait_spin_us,
      [generation](std::uint32_t now) { return barrier_bits::generation(now) != generation; }, [] {});
  // The lease was recalled meanwhile: the manager's departure woke us.
  if (e->remote_generation.load(std::memory_order_relaxed) == barrier_bits::generation(s)) {
    gpt::galloc::acquire_synced();
    if (e->remote_serial.exchange(0, std::memory_order_relaxed) == 1) return PTHREAD_BARRIER_SERIAL_THREAD;
  }
  return 0;
}

// Outside the global space only this node's threads can reach it.
std::uint32_t barrier_manager(const void* b) {
  return gpt::threads::in_global_space(b) ? gpt::threads::manager_of(b)
                                          : static_cast<std::uint32_t>(gpt::rt::state().node_id);
}

}  // namespace

GPT_API int pthread_barrier_init(pthread_barrier_t* b, const pthread_barrierattr_t* attr, unsigned count) {
  if (count == 0) return EINVAL;
  int pshared = PTHREAD_PROCESS_PRIVATE;
  if (attr) pthread_barrierattr_getpshared(attr, &pshared);
  auto* self = reinterpret_cast<Barrier*>(b);
  self->pshared = pshared == PTHREAD_PROCESS_SHARED ? 1 : 0;
  self->magic = kBarrierMagic;
  self->count = count;
  self->arrived.store(0, std::memory_order_relaxed);
  self->generation.store(0, std::memory_order_relaxed);
  return 0;
}

GPT_API int pthread_barrier_destroy(pthread_barrier_t* b) {
  auto* self = reinterpret_cast<Barrier*>(b);
  if (self->magic != kBarrierMagic) return EINVAL;
  self->magic = 0;
  return 0;
}

GPT_API int pthread_barrier_wait(pthread_barrier_t* b) {
  GPT_PROFILE_CALL_SITE();
  gpt::rt::ensure_started();
  auto* self = reinterpret_cast<Barrier*>(b);
  if (self->magic != kBarrierMagic) return EINVAL;
  if (!gpt::rt::state().channel) {
    gpt::threads::check_in_fork_child(b, self->pshared != 0, "barrier");
    return local_wait(self);
  }
  const std::uint32_t count = self->count;
  if (const std::optional<int> lent = lent_wait(b, count)) return *lent;
  // The token names this thread: which arrival its wait joins.
  const gpt::channel::BarrierWaitRequest req{reinterpret_cast<std::uintptr_t>(b), barrier_manager(b), count,
                                             reinterpret_cast<std::uintptr_t>(&t_barrier_token)};
  // With pages to release, the agent arrives for us once they are on their
  // way, and the wait joins that arrival (its round trip overlaps our call).
  const bool arrived = gpt::threads::release_for_barrier_wait(&req, sizeof req);
  const std::size_t length = arrived ? sizeof req : gpt::channel::kBarrierWaitBytes;
  gpt::channel::Client client(gpt::rt::state().channel);
  // Departure acquires: the reply often carries the answer already.
  const std::uint64_t generation = gpt::galloc::copy_generation();
  int result = -EINVAL;
  bool answered = false;
  (void)client.call_in_place(gpt::channel::Op::kBarrierWait, &req, length, nullptr, 0,
                             [&](std::int32_t status, unsigned char* reply, std::uint32_t length) {
                               result = status;
                               if (status >= 0 && length > 0) {
                                 gpt::galloc::apply_acquire_answer(reply, length, generation);
                                 answered = true;
                               }
                             });
  if (result < 0) return EINVAL;
  if (!answered) gpt::galloc::acquire_synced();
  return result == 1 ? PTHREAD_BARRIER_SERIAL_THREAD : 0;
}
