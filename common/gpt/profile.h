// Wait recording for `gpt-launch --profile` (docs/user-guide.md, "Profiling
// a job"). The program's runtime records where its threads wait (page
// faults, lock, condition, barrier, join, semaphore and rwlock waits,
// forwarded system calls, migrations) into a ProfileArea in the channel
// memory; the agent reads it when the job ends and sends it to the
// launcher, which writes the report.
//
// Off unless the agent set `enabled`: the hooks cost one load and one
// predictable branch. On, a record is two clock reads, a gettid, a few
// relaxed atomics and no allocation, no lock: async-signal-safe, so the
// page-fault handler records too.
//
// Bounded volume: every event is added to the aggregate of its (kind,
// object) in a fixed open-addressed table (an object that finds no room
// is counted in objects_dropped), and the first kProfileEvents events are
// also kept whole for the timeline (the rest are counted, not kept).
//
// Shared by the freestanding runtime and the glibc agent: <atomic> and
// <cstdint> only.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace gpt::profile {

enum class Kind : std::uint32_t {
  kReadFault = 1,   // object: the page's address
  kWriteFault = 2,  // object: the page's address
  kLock = 3,        // mutex (or spin lock) address
  kRwLock = 4,
  kCond = 5,        // condition variable address
  kBarrier = 6,     // barrier address (0: the job-wide gpt barrier)
  kJoin = 7,        // the joined thread's control block
  kSem = 8,         // semaphore address
  kForward = 9,     // system call number run on the origin
  kMigrate = 10,    // the node the thread went to
};
inline constexpr std::uint32_t kKindCount = 11;

[[nodiscard]] constexpr const char* kind_name(Kind k) {
  switch (k) {
    case Kind::kReadFault: return "read fault";
    case Kind::kWriteFault: return "write fault";
    case Kind::kLock: return "lock";
    case Kind::kRwLock: return "rwlock";
    case Kind::kCond: return "cond wait";
    case Kind::kBarrier: return "barrier";
    case Kind::kJoin: return "join";
    case Kind::kSem: return "semaphore";
    case Kind::kForward: return "forwarded call";
    case Kind::kMigrate: return "migration";
  }
  return "other";
}

// Records are stamped with the CPU's time-stamp counter, read without a
// system call: the fault handler records every fault when the profile is
// on, and two clock_gettime and a gettid system call per record made short
// faults a third slower. The agent turns ticks into nanoseconds with a
// (ticks, CLOCK_MONOTONIC) pair it takes at the program's start and another
// at the dump (TickClock, tools/gpt-node/profile_dump.h).
[[nodiscard]] inline std::uint64_t ticks() {
#if defined(__x86_64__) || defined(__i386__)
  return __builtin_ia32_rdtsc();
#elif defined(__aarch64__)
  std::uint64_t v;
  asm volatile("mrs %0, cntvct_el0" : "=r"(v));
  return v;
#else
#error "profile::ticks() needs the CPU's counter on this architecture"
#endif
}

struct Event {
  std::uint64_t start_ticks;
  std::uint64_t duration_ticks;
  std::uint64_t object;
  std::uint64_t site;         // a code address in the program (0: unknown)
  std::uint32_t kind;
  std::uint32_t thread;       // the kernel thread id on this node
};

struct alignas(64) ObjectTotal {
  std::atomic<std::uint64_t> key;  // pack_key(kind, object); 0: free
  std::atomic<std::uint64_t> count;
  std::atomic<std::uint64_t> total_ticks;
  std::atomic<std::uint64_t> max_ticks;
  std::atomic<std::uint64_t> site;  // the first call site seen
  std::atomic<std::uint64_t> threads_mask;  // which threads (tid % 64) waited there
};

inline constexpr std::size_t kProfileEvents = 8192;
inline constexpr std::size_t kProfileObjects = 4096;  // a power of two
inline constexpr std::size_t kProbeLimit = 32;

// Objects are addresses below 2^56 (global addresses are below 2^47) or
// small numbers, so the kind fits in the top byte.
[[nodiscard]] constexpr std::uint64_t pack_key(Kind kind, std::uint64_t object) {
  return (std::uint64_t{static_cast<std::uint32_t>(kind)} << 56) | (object & ((std::uint64_t{1} << 56) - 1));
}
[[nodiscard]] constexpr Kind key_kind(std::uint64_t key) { return static_cast<Kind>(key >> 56); }
[[nodiscard]] constexpr std::uint64_t key_object(std::uint64_t key) {
  return key & ((std::uint64_t{1} << 56) - 1);
}

struct alignas(64) ProfileArea {
  std::atomic<std::uint32_t> enabled;  // set by the agent before the program starts
  // Where the program's executable was loaded: its run-time addresses minus
  // its link-time ones (0 unless position-independent). Set by the runtime
  // at attach, so the launcher can name the sites of a PIE with addr2line.
  std::atomic<std::uint64_t> load_bias;
  alignas(64) std::atomic<std::uint64_t> next_event;  // events offered (kept: the first kProfileEvents)
  std::atomic<std::uint64_t> objects_dropped;  // events whose object found no room in `objects`
  Event events[kProfileEvents];
  ObjectTotal objects[kProfileObjects];
};

[[nodiscard]] inline bool enabled(const ProfileArea& area) {
  return __builtin_expect(area.enabled.load(std::memory_order_relaxed) != 0, 0);
}

inline void add_total(ProfileArea& area, const Event& e) {
  const std::uint64_t key = pack_key(static_cast<Kind>(e.kind), e.object);
  std::uint64_t h = key * 0x9e3779b97f4a7c15ull;
  for (std::size_t probe = 0; probe < kProbeLimit; ++probe) {
    ObjectTotal& t = area.objects[(h >> 40) % kProfileObjects];
    h += 0x9e3779b97f4a7c15ull;
    std::uint64_t seen = t.key.load(std::memory_order_acquire);
    if (seen == 0 && t.key.compare_exchange_strong(seen, key, std::memory_order_acq_rel)) {
      t.site.store(e.site, std::memory_order_relaxed);
      seen = key;
    }
    if (seen != key) continue;
    t.count.fetch_add(1, std::memory_order_relaxed);
    t.total_ticks.fetch_add(e.duration_ticks, std::memory_order_relaxed);
    t.threads_mask.fetch_or(std::uint64_t{1} << (e.thread % 64), std::memory_order_relaxed);
    std::uint64_t max = t.max_ticks.load(std::memory_order_relaxed);
    while (e.duration_ticks > max &&
           !t.max_ticks.compare_exchange_weak(max, e.duration_ticks, std::memory_order_relaxed)) {
    }
    if (t.site.load(std::memory_order_relaxed) == 0 && e.site)
      t.site.store(e.site, std::memory_order_relaxed);
    return;
  }
  area.objects_dropped.fetch_add(1, std::memory_order_relaxed);
}

inline void record(ProfileArea& area, const Event& e) {
  add_total(area, e);
  const std::uint64_t index = area.next_event.fetch_add(1, std::memory_order_relaxed);
  if (index < kProfileEvents) area.events[index] = e;
}

// The program's code that called the pthread or semaphore function waiting
// now (that function's return address), recorded as the wait's site so the
// report names the line of a contended lock as it does a fault's; 0 outside
// such calls. The runtime sets it with GPT_PROFILE_CALL_SITE() at the
// entry of every call that may wait; a call made inside another (the
// mutex a condition wait takes back) keeps the outer call's site. One
// thread-local store per call, whether the profile is on or not.
inline thread_local std::uint64_t t_call_site __attribute__((tls_model("initial-exec"))) = 0;

class CallSite {
 public:
  explicit CallSite(const void* return_address) : outer_(t_call_site) {
    if (outer_ == 0) t_call_site = reinterpret_cast<std::uint64_t>(return_address);
  }
  ~CallSite() { t_call_site = outer_; }
  CallSite(const CallSite&) = delete;
  CallSite& operator=(const CallSite&) = delete;

 private:
  std::uint64_t outer_;
};

}  // namespace gpt::profile

#define GPT_PROFILE_CALL_SITE() \
  const ::gpt::profile::CallSite gpt_profile_call_site_(__builtin_return_address(0))
