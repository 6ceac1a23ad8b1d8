// The application side of the channel (see channel.h): synchronous calls to
// the agent. Header-only and freestanding so that the runtime (musl or glibc)
// and the glibc unit tests share one implementation. Async-signal-safe.
#pragma once

#include <errno.h>
#include <time.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "channel.h"
#include "futex.h"
#include "raw_syscall.h"
#include "spin_wait.h"

namespace gpt::channel {

// Wakes the agent's poll loop (after publishing a request, or a delegate's
// reply).
inline void ring_agent(Layout& layout) {
  layout.header.agent_doorbell.fetch_add(1, std::memory_order_seq_cst);
  // A polling agent sees the bell move. It clears agent_polling before it
  // sleeps and then looks at the bell again, so either it sees our bump or
  // we see it no longer polls (both sides: a sequentially consistent write,
  // then a read of the other's word).
  if (layout.header.agent_polling.load(std::memory_order_seq_cst) != 0) return;
  int fd = layout.header.doorbell_fd;
  if (fd >= 0) {
    std::uint64_t one = 1;
    // eventfd writes of 8 bytes cannot be short; EAGAIN only if the
    // counter would overflow, and then the agent is awake anyway.
    (void)sys::call(SYS_write, fd, sys::arg(&one), sizeof one);
  } else {
    futex::wake(&layout.header.agent_doorbell);
  }
}

// Which wait a call is, for the profile (profile.h); 0 for calls that do
// not wait on anything of the program's. Page faults are recorded by the
// fault handler, which knows the access and the faulting instruction.
[[nodiscard]] constexpr std::uint32_t profiled_kind(Op op) {
  using profile::Kind;
  switch (op) {
    case Op::kLock:
    case Op::kTimedLock: return static_cast<std::uint32_t>(Kind::kLock);
    case Op::kRwLock: return static_cast<std::uint32_t>(Kind::kRwLock);
    case Op::kCondSleep: return static_cast<std::uint32_t>(Kind::kCond);
    case Op::kBarrier:
    case Op::kBarrierWait: return static_cast<std::uint32_t>(Kind::kBarrier);
    case Op::kJoin: return static_cast<std::uint32_t>(Kind::kJoin);
    case Op::kSemWait: return static_cast<std::uint32_t>(Kind::kSem);
    case Op::kForward: return static_cast<std::uint32_t>(Kind::kForward);
    case Op::kMigrate: return static_cast<std::uint32_t>(Kind::kMigrate);
    default: return 0;
  }
}

// The first word of a request names the object its wait is on (the lock,
// condition, semaphore, barrier or thread; for a forwarded call the
// system call number, for a migration the node: 32-bit fields).
[[nodiscard]] constexpr std::uint64_t profiled_object(Op op, std::uint64_t first_word) {
  return op == Op::kForward || op == Op::kMigrate ? (first_word & 0xffffffffu) : first_word;
}

[[nodiscard]] inline std::uint64_t monotonic_ns() {
  struct timespec ts {};
  (void)sys::call(SYS_clock_gettime, CLOCK_MONOTONIC, sys::arg(&ts));
  return static_cast<std::uint64_t>(ts.tv_sec) * 1000000000u + static_cast<std::uint64_t>(ts.tv_nsec);
}

// This kernel thread's id, asked once per thread (a new thread's copy
// starts at 0).
inline thread_local std::uint32_t t_profiled_tid __attribute__((tls_model("initial-exec"))) = 0;

// Records one wait that began at `started_ticks` (profile::ticks()); the
// caller has checked profile::enabled.
inline void record_wait(Layout& layout, std::uint32_t kind, std::uint64_t object, std::uint64_t site,
                        std::uint64_t started_ticks) {
  const std::uint64_t now = profile::ticks();
  if (t_profiled_tid == 0) t_profiled_tid = static_cast<std::uint32_t>(sys::call(SYS_gettid));
  profile::record(layout.profile, profile::Event{started_ticks, now - started_ticks, object, site, kind, t_profiled_tid});
}

struct CallResult {
  std::int32_t status;    // 0 or a negative errno from the agent
  std::uint32_t length;   // reply bytes copied into the caller's buffer
};

// Called when a thread that sleeps until its reply comes was woken by a
// signal (its handler ran meanwhile), with the call's op: the runtime above
// may make what the handler wrote visible (libgpthread releases, for the
// calls a thread waits in). Null: nothing. Set once, as the runtime starts.
inline void (*g_wait_interrupted)(std::uint32_t op) = nullptr;

class Client {
 public:

  explicit Client(Layout* layout) : layout_(layout) {}

  // Sends `op` with `request` and blocks until the agent replies. At most
  // `reply_cap` reply bytes are copied to `reply`. Requests larger than a
  // slot are refused with -E2BIG (-7) without contacting the agent.
  [[nodiscard]] CallResult call(Op op, const void* request, std::size_t request_len,
                                void* reply, std::size_t reply_cap) const {
    return call(op, nullptr, 0, request, request_len, reply, reply_cap);
  }

  // Typed forms, for the structs of channel_ops.h: `request` is the whole
  // request; the reply, if any, is copied into `reply` (at most its size:
  // CallResult::length says how much came).
  template <class Request>
  [[nodiscard]] CallResult call(Op op, const Request& request) const {
    static_assert(std::is_trivially_copyable_v<Request>);
    return call(op, &request, sizeof request, nullptr, 0);
  }
  template <class Request, class Reply>
  [[nodiscard]] CallResult call(Op op, const Request& request, Reply& reply) const {
    static_assert(std::is_trivially_copyable_v<Request> && std::is_trivially_copyable_v<Reply>);
    return call(op, &request, sizeof request, &reply, sizeof reply);
  }

  // As above, the request being `head` followed by `body`.
  [[nodiscard]] CallResult call(Op op, const void* head, std::size_t head_len, const void* body,
                                std::size_t body_len, void* reply, std::size_t reply_cap) const {
    CallResult r{-7, 0};
    call_in_place(op, head, head_len, body, body_len,
                  [&](std::int32_t status, unsigned char* payload, std::uint32_t length) {
                    r = {status, length < reply_cap ? length : static_cast<std::uint32_t>(reply_cap)};
                    if (r.length) std::memcpy(reply, payload, r.length);
                  });
    return r;
  }

  // As above, but the reply is handed to `on_reply(status, payload,
  // length)` where it lies, in the slot, before the slot is freed: for
  // replies too big to copy onto a stack. `on_reply` may write the payload
  // and make other calls. Returns false (and does not call it) for a
  // request larger than a slot. `on_published(slot index)` runs once the
  // request is published, before the wait: a cancellable wait notes its
  // slot there (the slot stays the caller's until on_reply returns).
  template <class OnReply, class OnPublished = void (*)(std::uint32_t)>
  bool call_in_place(Op op, const void* head, std::size_t head_len, const void* body,
                     std::size_t body_len, OnReply&& on_reply,
                     OnPublished&& on_published = [](std::uint32_t) {}) const {
    const std::size_t request_len = head_len + body_len;
    if (request_len > kSlotPayload) return false;
    // Profile hook (profile.h): one predictable branch when off.
    const std::uint32_t profiled = profile::enabled(layout_->profile) ? profiled_kind(op) : 0;
    const std::uint64_t started = profiled ? profile::ticks() : 0;
    Slot& slot = claim();
    slot.h.op = static_cast<std::uint32_t>(op);
    slot.h.length = static_cast<std::uint32_t>(request_len);
    slot.h.status = 0;
    if (head_len) std::memcpy(slot.payload, head, head_len);
    if (body_len) std::memcpy(slot.payload + head_len, body, body_len);
    std::uint64_t first_word = 0;
    if (profiled && request_len >= sizeof first_word) std::memcpy(&first_word, slot.payload, sizeof first_word);
    slot.h.state.store(static_cast<std::uint32_t>(SlotState::kRequest),
                       std::memory_order_release);
    const auto index = static_cast<std::uint32_t>(&slot - layout_->slots);
    layout_->header.published[index / 64].fetch_or(std::uint64_t{1} << (index % 64), std::memory_order_release);
    ring();
    on_published(index);

    await_reply(slot);
    if (profiled) record_wait(*layout_, profiled, profiled_object(op, first_word), profile::t_call_site, started);
    const std::uint32_t length = slot.h.length <= kSlotPayload ? slot.h.length
                                                              : static_cast<std::uint32_t>(kSlotPayload);
    on_reply(slot.h.status, slot.payload, length);
    slot.h.state.store(static_cast<std::uint32_t>(SlotState::kFree), std::memory_order_release);
    return true;
  }

  [[nodiscard]] Layout* layout() const { return layout_; }

 private:
  void ring() const { ring_agent(*layout_); }

  // Spins, then sleeps (spin_wait.h) until the agent's reply is there.
  void await_reply(Slot& slot) const {
    constexpr auto kReply = static_cast<std::uint32_t>(SlotState::kReply);
    (void)spin_then_sleep(
        slot.h.state, layout_->header.wait_spin_us, [](std::uint32_t s) { return s == kReply; },
        [&slot] {
          if (g_wait_interrupted) g_wait_interrupted(slot.h.op);
        });
  }

  // Claims a free slot; the start index spreads threads over the slots.
  [[nodiscard]] Slot& claim() const {
    std::uint32_t start = static_cast<std::uint32_t>(
        reinterpret_cast<std::uintptr_t>(__builtin_frame_address(0)) >> 12);
    for (;;) {
      for (std::uint32_t i = 0; i < kSlotCount; ++i) {
        Slot& slot = layout_->slots[(start + i) % kSlotCount];
        std::uint32_t expected = static_cast<std::uint32_t>(SlotState::kFree);
        if (slot.h.state.compare_exchange_strong(
                expected, static_cast<std::uint32_t>(SlotState::kClaimed),
                std::memory_order_acquire, std::memory_order_relaxed))
          return slot;
      }
      (void)sys::call(SYS_sched_yield);  // all slots busy: more callers than slots, rare
    }
  }

  Layout* layout_;
};

}  // namespace gpt::channel
