#include "service.h"

#include <signal.h>
#include <sys/syscall.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>

#include "coherence.h"
#include "diag.h"
#include "gpt/channel_client.h"
#include "gpt/futex.h"
#include "gpt/futex_lock.h"
#include "libc_threads.h"
#include "runtime.h"

extern "C" void gpt_call_on_private(void* top, void (*fn)(void*), void* arg);

namespace gpt::threads {
namespace {

thread_local Tcb* t_current __attribute__((tls_model("initial-exec")));

// Threads that ended on this node, waiting for the service thread to join
// their kernel thread: a ring of control blocks (multi-producer: a slot is
// claimed with fetch_add, then filled; the consumer waits for the fill).
constexpr std::size_t kFinishing = 4096;
std::atomic<std::uint64_t> g_finish_head{0};
std::uint64_t g_finish_tail = 0;
Tcb* g_finishing[kFinishing];

// The libc's kernel thread of each running gpthread thread on this node,
// found again at reaping time by scanning (threads per node are few).
constexpr std::size_t kMaxLocalThreads = 4096;
Tcb* g_running_tcb[kMaxLocalThreads];
pthread_t g_running_kt[kMaxLocalThreads];
FutexLock g_running_lock;

// Runs on the thread's stack in the global space.
void run_thread(void* arg) {
  auto* tcb = static_cast<Tcb*>(arg);
  void* result = tcb->start(tcb->arg);
  tcb->result = result;
  run_key_destructors();
  thread_finished(tcb);
}

// The kernel thread starts on a private stack the libc made (its TLS and
// thread descriptor stay private too); with the signal stack in place it
// moves to the global stack, where a write fault can be handled.
void* trampoline(void* arg) {
  auto* tcb = static_cast<Tcb*>(arg);
  set_current(tcb);
  tcb->kernel_tid = static_cast<std::int32_t>(syscall(SYS_gettid));
  install_signal_stack();
  auto top = (reinterpret_cast<std::uintptr_t>(tcb->stack) + tcb->stack_bytes) & ~std::uintptr_t{15};
  gpt_call_on_private(reinterpret_cast<void*>(top), run_thread, tcb);
  return tcb->result;
}

void ring_bell() {
  auto& q = rt::state().channel->downcalls;
  q.bell.fetch_add(1, std::memory_order_release);
  futex::wake(&q.bell);
}

void start_here(Tcb* tcb) {
  // The creator released before handing the thread over: see its writes
  // (the control block, the argument's memory).
  galloc::acquire();
  const std::size_t bytes = tcb->stack_bytes;
  void* stack = malloc(bytes);  // this node's partition: the stack is homed here
  if (!stack) rt::die("cannot allocate a thread stack in the global heap", 134);
  tcb->stack = stack;
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, 64 * 1024);  // the private start-up stack
  pthread_t kt;
  int err = libc_create(&kt, &attr, trampoline, tcb);
  pthread_attr_destroy(&attr);
  if (err != 0) {
    rt::diag().text("cannot start a thread on this node (libc pthread_create error ").num(err).text(")").emit();
    _exit(134);
  }
  Held<FutexLock> hold(g_running_lock);
  for (std::size_t i = 0; i < kMaxLocalThreads; ++i)
    if (!g_running_tcb[i]) {
      g_running_tcb[i] = tcb;
      g_running_kt[i] = kt;
      return;
    }
  rt::die("more than 4096 threads on one node", 134);
}

void reap(Tcb* tcb) {
  pthread_t kt{};
  {
    Held<FutexLock> hold(g_running_lock);
    for (std::size_t i = 0; i < kMaxLocalThreads; ++i)
      if (g_running_tcb[i] == tcb) {
        kt = g_running_kt[i];
        g_running_tcb[i] = nullptr;
        break;
      }
  }
  // The thread has left its start routine; wait until the kernel thread is
  // gone before its stack may be reused.
  libc_join(kt);
  free(tcb->stack);
  tcb->stack = nullptr;
  galloc::release();  // the result and everything the thread wrote
  std::uint64_t word = reinterpret_cast<std::uintptr_t>(tcb);
  channel::Client client(rt::state().channel);
  auto r = client.call(channel::Op::kThreadExit, &word, sizeof word, nullptr, 0);
  if (r.status != 0) rt::die("cannot report a thread's end to its home", 134);
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
    } else if (e.op == static_cast<std::uint32_t>(channel::Downcall::kFlushLock)) {
      // A lock's token is leaving this node: what its holders wrote must be
      // at the homes first (unlock itself does not release).
      galloc::release();
      struct {
        std::uint64_t lock;
        std::uint32_t manager, pad;
      } req{e.arg, 0, 0};
      channel::Client client(rt::state().channel);
      if (client.call(channel::Op::kLockFlushed, &req, sizeof req, nullptr, 0).status != 0)
        rt::die("cannot hand a lock's token over", 134);
    }
  }
  while (g_finish_tail != g_finish_head.load(std::memory_order_acquire)) {
    Tcb* tcb;
    while (!(tcb = __atomic_load_n(&g_finishing[g_finish_tail % kFinishing], __ATOMIC_ACQUIRE))) {
    }
    __atomic_store_n(&g_finishing[g_finish_tail % kFinishing], nullptr, __ATOMIC_RELEASE);
    ++g_finish_tail;
    reap(tcb);
  }
}

void* service_main(void*) {
  serve_forever();
}

}  // namespace

Tcb* current() { return t_current; }
void set_current(Tcb* tcb) { t_current = tcb; }

void thread_finished(Tcb* tcb) {
  std::uint64_t slot = g_finish_head.fetch_add(1, std::memory_order_acq_rel);
  __atomic_store_n(&g_finishing[slot % kFinishing], tcb, __ATOMIC_RELEASE);
  ring_bell();
}

void serve_forever() {
  auto& h = rt::state().channel->header;
  auto& q = rt::state().channel->downcalls;
  for (;;) {
    std::uint32_t bell = q.bell.load(std::memory_order_acquire);
    serve_once();
    if (h.shutdown.load(std::memory_order_acquire)) _exit(0);
    futex::wait(&q.bell, bell, 100'000'000);
  }
}

void start_service_thread() {
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_attr_setstacksize(&attr, 256 * 1024);
  pthread_t t;
  int err = libc_create(&t, &attr, service_main, nullptr);
  pthread_attr_destroy(&attr);
  if (err != 0) rt::die("cannot start the runtime's service thread", 127);
}

void install_signal_stack() {
  // Roomy: the crash report runs libunwind on it.
  constexpr std::size_t kBytes = 256 * 1024;
  void* p = mmap(nullptr, kBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) rt::die("cannot map a signal stack", 134);
  stack_t ss{};
  ss.ss_sp = p;
  ss.ss_size = kBytes;
  if (sigaltstack(&ss, nullptr) != 0) rt::die("sigaltstack failed", 134);
}

}  // namespace gpt::threads
