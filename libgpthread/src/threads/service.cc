#include "service.h"

#include <signal.h>
#include <sys/syscall.h>
#include <sys/mman.h>
#include <unistd.h>

#include <sched.h>

#include <atomic>
#include <cstdlib>

#include "coherence.h"
#include "diag.h"
#include "gpt/channel_client.h"
#include "gpt/futex.h"
#include "futex_lock.h"
#include "gpt/raw_syscall.h"
#include "libc_threads.h"
#include "process_signals.h"
#include "runtime.h"
#include "scheduling.h"
#include "shim.h"
#include "thread_body.h"
#include "thread_state.h"
#include "vehicles.h"
#include "local_memory.h"

namespace gpt::threads {
namespace {

thread_local Tcb* t_current __attribute__((tls_model("initial-exec")));

// Kernel threads that stopped running their gpthread thread (it ended, or
// it migrated away), waiting to be joined: a ring (multi-producer: an entry
// is claimed with fetch_add, then filled, the control block last; the
// consumer waits for the fill).
struct Finished {
  Tcb* tcb;
  pthread_t kernel_thread;
  std::uint32_t slot;
  bool migrated;
};
constexpr std::size_t kFinishing = 4096;
std::atomic<std::uint64_t> g_finish_head{0};
std::uint64_t g_finish_tail = 0;
Finished g_finishing[kFinishing];
FutexLock g_reap_lock;  // one consumer at a time

// This node's vehicles (thread_body.h) that have not been joined yet,
// found by scanning (threads per node are few).
struct Vehicle {
  Tcb* tcb;
  std::uint32_t slot;  // one vehicle per slot per node
};
constexpr std::size_t kMaxLocalThreads = 4096;
Vehicle g_vehicles[kMaxLocalThreads];
FutexLock g_vehicles_lock;

// The vehicle starts on the slot's stack (its TLS and thread descriptor at
// the top); with the signal stack in place the thread moves to its global
// stack, where a write fault can be handled.
void* trampoline(void* arg) {
  auto* tcb = static_cast<Tcb*>(arg);
  set_current(tcb);
  SignalStack signal_stack;
  if (!tcb->migration) {
    std::uint64_t mask = tcb->signal_mask & ~((1ull << (SIGSEGV - 1)) | (1ull << (SIGSYS - 1)));
    sys::call(SYS_rt_sigprocmask, SIG_SETMASK, sys::arg(&mask), 0, 8);
  }
  // Known from here on; what was sent before is raised now, under the
  // thread's own mask (handled once it runs the program's code).
  __atomic_store_n(&tcb->kernel_tid, static_cast<std::int32_t>(syscall(SYS_gettid)), __ATOMIC_RELEASE);
  apply_sched_here(tcb);
  raise_pending_signals(tcb);
  const Leave leave = run_gpthread(tcb);
  // No program thread runs here any more (it ended, or went on elsewhere):
  // a signal to the process is not this kernel thread's to take.
  block_program_signals();
  thread_finished(tcb, leave == Leave::kMigrated);
  return nullptr;
}

void ring_bell() {
  auto& q = rt::state().channel->downcalls;
  q.bell.fetch_add(1, std::memory_order_release);
  futex::wake(&q.bell);
}

bool slot_in_use(std::uint32_t slot) {
  Held<FutexLock> hold(g_vehicles_lock);
  for (const Vehicle& v : g_vehicles)
    if (v.tcb && v.slot == slot) return true;
  return false;
}

void reap(const Finished& f) {
  {
    Held<FutexLock> hold(g_vehicles_lock);
    for (Vehicle& v : g_vehicles)
      if (v.tcb && v.slot == f.slot) {
        v.tcb = nullptr;
        break;
      }
  }
  // The thread has left its global stack; wait until the kernel thread is
  // gone before its slot, or that stack, may be reused.
  libc_join(f.kernel_thread);
  vehicles::unmap(f.slot);
  if (f.migrated) return;  // it goes on elsewhere
  Tcb* tcb = f.tcb;
  // main's stack stays (the process ends with main); a stack the program
  // gave is the program's.
  if (!tcb->is_main && !tcb->given_stack) free_stack(tcb);
  tcb->stack = nullptr;
  galloc::release();  // the result and everything the thread wrote
  const channel::ThreadRequest request{reinterpret_cast<std::uintptr_t>(tcb)};
  channel::Client client(rt::state().channel);
  auto r = client.call(channel::Op::kThreadExit, request);
  if (r.status != 0) rt::die("cannot report a thread's end to its home", 134);
}

void reap_finished() {
  Held<FutexLock> hold(g_reap_lock);
  while (g_finish_tail != g_finish_head.load(std::memory_order_acquire)) {
    Finished& entry = g_finishing[g_finish_tail % kFinishing];
    while (!__atomic_load_n(&entry.tcb, __ATOMIC_ACQUIRE)) {
    }
    Finished f = entry;
    __atomic_store_n(&entry.tcb, nullptr, __ATOMIC_RELEASE);
    ++g_finish_tail;
    reap(f);
  }
}

void start_here(Tcb* tcb) {
  // The creator released before handing the thread over: see its writes
  // (the control block, the argument's memory). The hand-over carried the
  // epoch of what it saw, so the agent usually answers by itself.
  galloc::acquire_synced();
  // This node's partition: homed here.
  // Its creator allocated it if it runs where it was created (pthread_api.cc).
  if (!tcb->migration && !tcb->given_stack && !tcb->stack && !allocate_stack(tcb))
    rt::die("cannot allocate a thread stack in the global heap", 134);
  start_vehicle(tcb);
}

// One pass: start what the agent handed us, reap what ended.
void serve_once() {
  auto& q = rt::state().channel->downcalls;
  for (std::uint64_t tail = q.tail.load(std::memory_order_relaxed);
       tail != q.head.load(std::memory_order_acquire); ++tail) {
    auto e = q.entries[tail % channel::kDowncallEntries];
    q.tail.store(tail + 1, std::memory_order_release);
    if (e.op == static_cast<std::uint32_t>(channel::Downcall::kRunThread)) {
      start_here(reinterpret_cast<Tcb*>(e.arg));
    } else if (e.op == static_cast<std::uint32_t>(channel::Downcall::kFreeTcb)) {
      auto* tcb = reinterpret_cast<Tcb*>(e.arg);
      tcb->magic = 0;  // a stale handle now says ESRCH
      free(tcb);
    } else if (e.op == static_cast<std::uint32_t>(channel::Downcall::kKillThread)) {
      const channel::KillArg kill = channel::unpack_kill_arg(e.arg);
      deliver_here(reinterpret_cast<Tcb*>(kill.tcb), static_cast<int>(kill.sig), kill.hops);
    } else if (e.op == static_cast<std::uint32_t>(channel::Downcall::kSignalAction)) {
      apply_disposition_from_elsewhere(static_cast<int>(e.arg));
    } else if (e.op == static_cast<std::uint32_t>(channel::Downcall::kProcessSignalRaised)) {
      note_signal_from_elsewhere(static_cast<int>(e.arg));
    } else if (e.op == static_cast<std::uint32_t>(channel::Downcall::kDrainFrees)) {
      galloc::take_remote_frees();
    } else if (e.op == static_cast<std::uint32_t>(channel::Downcall::kFlushStdio)) {
      shim::flush_stdio_here();
    } else if (e.op == static_cast<std::uint32_t>(channel::Downcall::kFreeSlot)) {
      vehicles::free_slot(static_cast<std::uint32_t>(e.arg));
    } else if (e.op == static_cast<std::uint32_t>(channel::Downcall::kFlushLock)) {
      // A lock's token is leaving this node: what its holders wrote must be
      // at the homes first (unlock itself does not release).
      galloc::release();
      const channel::LockRequest req{e.arg, 0, 0};  // the agent knows its manager
      channel::Client client(rt::state().channel);
      if (client.call(channel::Op::kLockFlushed, req).status != 0)
        rt::die("cannot hand a lock's token over", 134);
    } else if (e.op == static_cast<std::uint32_t>(channel::Downcall::kFlushBarrier)) {
      // A lent barrier goes back to its manager with threads waiting at it
      // here: their arrivals are releases (the lease's own were not).
      galloc::release();
      const channel::BarrierWaitRequest req{e.arg, 0, 0, 0};
      channel::Client client(rt::state().channel);
      if (client.call(channel::Op::kBarrierFlushed, &req, channel::kBarrierWaitBytes, nullptr, 0).status != 0)
        rt::die("cannot give a barrier's lease back", 134);
    }
  }
  reap_finished();
}

void* service_main(void*) {
  serve_forever();
}

}  // namespace

Tcb* current() { return t_current; }
void set_current(Tcb* tcb) { t_current = tcb; }

void thread_finished(Tcb* tcb, bool migrated) {
  std::uint64_t n = g_finish_head.fetch_add(1, std::memory_order_acq_rel);
  Finished& entry = g_finishing[n % kFinishing];
  entry.kernel_thread = libc_self();
  entry.slot = tcb->slot;
  entry.migrated = migrated;
  __atomic_store_n(&entry.tcb, tcb, __ATOMIC_RELEASE);
  ring_bell();
}

void start_vehicle(Tcb* tcb) {
  // A vehicle this thread left on this node may still be on its way out.
  while (slot_in_use(tcb->slot)) {
    reap_finished();
    if (slot_in_use(tcb->slot)) sched_yield();
  }
  {
    // Listed before it runs: it may end, and be reaped, at once.
    Held<FutexLock> hold(g_vehicles_lock);
    Vehicle* free_entry = nullptr;
    for (Vehicle& v : g_vehicles)
      if (!v.tcb) {
        free_entry = &v;
        break;
      }
    if (!free_entry) rt::die("more than 4096 threads on one node", 134);
    *free_entry = Vehicle{tcb, tcb->slot};
  }
  void* slot = vehicles::map(tcb->slot);
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstack(&attr, slot, vehicles::kSlotBytes);
  pthread_t kt;
  int err = libc_create(&kt, &attr, trampoline, tcb);
  pthread_attr_destroy(&attr);
  if (err != 0) {
    rt::diag().text("cannot start a thread on this node (libc pthread_create error ").num(err).text(")").emit();
    _exit(134);
  }
}

// Whether program threads run on this node (their vehicles, not yet reaped).
bool threads_here() {
  Held<FutexLock> hold(g_vehicles_lock);
  for (const Vehicle& v : g_vehicles)
    if (v.tcb) return true;
  return false;
}

// While program threads run here, the node acquires every kRefreshNs on
// its own (docs/coherence.md): a thread that spins on a flag another node
// released (a loop with no pthread call in it) then sees it within that
// time, as it would within one process, instead of spinning on a stale
// copy forever. Only pages other nodes released are invalidated; on node 0
// the agent answers without a message.
constexpr long long kRefreshNs = 20'000'000;

void serve_forever() {
  // A runtime thread (on worker nodes, the process's first thread): the
  // program's signals are left to the program's threads, and the vehicles
  // it starts hold them blocked until they set their thread's mask.
  block_program_signals();
  auto& h = rt::state().channel->header;
  auto& q = rt::state().channel->downcalls;
  for (;;) {
    std::uint32_t bell = q.bell.load(std::memory_order_acquire);
    serve_once();
    if (h.shutdown.load(std::memory_order_acquire)) _exit(0);
    const bool refresh = threads_here() || (rt::state().node_id == 0 && !h.spmd);
    if (futex::wait(&q.bell, bell, refresh ? kRefreshNs : 100'000'000) == -ETIMEDOUT && refresh)
      galloc::acquire();
  }
}

void start_service_thread() {
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_attr_setstacksize(&attr, 256 * 1024);
  pthread_t t;
  int err = create_runtime_thread(&t, &attr, service_main, nullptr);
  pthread_attr_destroy(&attr);
  if (err != 0) rt::die("cannot start the runtime's service thread", 127);
}

SignalStack::SignalStack() {
  memory_ = rt::map_local(nullptr, kBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (memory_ == MAP_FAILED) rt::die("cannot map a signal stack", 134);
  stack_t ss{};
  ss.ss_sp = memory_;
  ss.ss_size = kBytes;
  if (sigaltstack(&ss, nullptr) != 0) rt::die("sigaltstack failed", 134);
}

SignalStack::~SignalStack() {
  stack_t off{};
  off.ss_flags = SS_DISABLE;
  sigaltstack(&off, nullptr);
  rt::unmap_local(memory_, kBytes);
}

}  // namespace gpt::threads
