// Attaching the application process to its node's agent, before main.
//
// The agent passes the channel memfd's number in GPT_CHANNEL_FD. We map it,
// check its magic and version, learn our node id and the job's size, close
// the fd and remove the variable (a program this one execs must not attach
// to our channel). Nodes other than 0 never return from here: they become
// workers and wait for the job to end, so their main() never runs.
#include <elf.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>

#include "diag.h"
#include "coherence.h"
#include "global_space.h"
#include "exe_windows.h"
#include "preload_attach.h"
#include "heap/node_heap.h"
#include "cancel.h"
#include "libc_threads.h"
#include "library_fault.h"
#include "process_signals.h"
#include "runtime.h"
#include "shim.h"
#include "vehicles.h"
#include "service.h"
#include "sync_common.h"
#include "local_memory.h"

namespace gpt::rt {
namespace {


// Parses a non-negative decimal int; -1 on anything else.
int parse_fd(const char* s) {
  if (!s || !*s) return -1;
  long v = 0;
  for (; *s; ++s) {
    if (*s < '0' || *s > '9' || v > 1000000) return -1;
    v = v * 10 + (*s - '0');
  }
  return static_cast<int>(v);
}

}  // namespace

// The executable's load bias, from the kernel's auxiliary vector: where its
// program headers are minus where its PT_PHDR says they would be at link
// time (a static non-PIE program has no PT_PHDR: bias 0).
std::uint64_t executable_load_bias() {
  const auto* phdr = reinterpret_cast<const Elf64_Phdr*>(getauxval(AT_PHDR));
  const unsigned long count = getauxval(AT_PHNUM);
  for (unsigned long i = 0; phdr != nullptr && i < count; ++i)
    if (phdr[i].p_type == PT_PHDR) return reinterpret_cast<std::uintptr_t>(phdr) - phdr[i].p_vaddr;
  return 0;
}

// Maps the channel named by GPT_CHANNEL_FD (if any) and fills state().
void attach() {
  const char* fd_text = getenv("GPT_CHANNEL_FD");
  if (!fd_text) return;  // not under gpt-launch: node 0 of 1
  int fd = parse_fd(fd_text);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) != 0 ||
      static_cast<unsigned long>(st.st_size) < channel::kChannelBytes)
    die("GPT_CHANNEL_FD does not name the agent's channel (was the program started by "
        "something other than gpt-node?)",
        127);
  void* p = rt::map_local(nullptr, channel::kChannelBytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) die("cannot map the agent's channel", 127);
  close(fd);
  unsetenv("GPT_CHANNEL_FD");
  auto* layout = static_cast<channel::Layout*>(p);
  if (layout->header.magic != channel::kMagic || layout->header.version != channel::kVersion) {
    diag()
        .text("channel version mismatch: agent speaks ")
        .num(layout->header.version)
        .text(", runtime speaks ")
        .num(channel::kVersion)
        .text(" (rebuild the program against this gpthread)")
        .emit();
    _exit(127);
  }
  g_state.node_id = static_cast<int>(layout->header.node_id);
  g_state.node_count = static_cast<int>(layout->header.node_count);
  g_state.channel = layout;
  layout->profile.load_bias.store(executable_load_bias(), std::memory_order_relaxed);
  preload::attach();
}

}  // namespace gpt::rt

// Priority 101: before the program's own constructors, so that they already
// see the right node id.
namespace gpt::rt {

void start_once() {
  // 0: not started, 1: starting, 2: running. malloc may get here before our
  // constructor (libc's own start-up allocates), from any thread.
  std::atomic<int>& started = g_started;
  if (started.load(std::memory_order_acquire) == 2) return;
  int expected = 0;
  if (started.compare_exchange_strong(expected, 1, std::memory_order_acq_rel)) {
    attach();
    shim::init();  // before any signal handler: they need its restorer
    galloc::map_global_space();
    galloc::exe_windows::publish_layout();  // --preload: node 0 says where it loaded the program
    galloc::node_heap().init(galloc::space().geometry, galloc::space().self);
    if (galloc::space().coherent) threads::vehicles::reserve(state().node_count);
    // Start-up barrier: node 0 fills its memfd with the globals' initial
    // image when it maps them; no other node may write a global (whose diff
    // would land in that memfd) before every node has mapped its own.
    galloc::barrier_all();
    galloc::exe_windows::check_layout();  // --preload: the other nodes compare
    started.store(2, std::memory_order_release);
    return;
  }
  while (started.load(std::memory_order_acquire) != 2) sched_yield();
}

}  // namespace gpt::rt

__attribute__((constructor(101))) static void gpt_runtime_start() {
  gpt::rt::ensure_started();
  gpt::threads::install_cancel_handler();
#ifdef __GLIBC__
  gpt::dl::install_library_fault_hook();  // only glibc programs dlopen
#endif
  const auto& s = gpt::rt::state();
  if (!s.channel) return;  // one node, no agent: nothing to serve
  gpt::threads::install_release_after_handlers();
  gpt::shim::keep_fork_children_private();
  // Worker nodes become the service loop (main never runs there); node 0
  // and SPMD nodes run main and serve from a thread of their own.
  gpt::threads::start_signal_watcher();
  if (s.node_id != 0 && !s.channel->header.spmd) gpt::threads::serve_forever();
  gpt::threads::start_service_thread();
  // Delegates block the program's signals: a kill the origin's kernel would
  // otherwise hand to the delegate that made it is left to the program's
  // threads (process_signals.h).
  if (s.node_id == 0 && !s.channel->header.spmd) gpt::shim::start_delegates(gpt::threads::create_runtime_thread);
}
