#include "thread_body.h"

#include <stdlib.h>

#include <cstdint>

#include "context.h"
#include "migration.h"
#include "runtime.h"
#include "service.h"
#include "shim.h"
#include "sync_common.h"
#include "thread_state.h"

namespace gpt::threads {
namespace {

// Where run_gpthread waits on this kernel thread's private stack.
thread_local Context* t_exit __attribute__((tls_model("initial-exec")));

// The outermost frame on the global stack.
void body(void* arg) {
  auto* tcb = static_cast<Tcb*>(arg);
  void* result = tcb->start(tcb->arg);
  tcb->result = result;
  // Returning from main ends the process: no thread-specific destructors.
  if (!tcb->is_main) {
    run_key_destructors();
    abandon_robust_mutexes();
  }
  // In a child of fork() this is the process's only thread: its end is the
  // process's (main's status, else 0, as when a process's last thread ends).
  if (rt::state().fork_child) exit(tcb->is_main ? static_cast<int>(reinterpret_cast<std::intptr_t>(result)) : 0);
  leave_global_stack(Leave::kFinished);
}

constexpr std::size_t kGuardBytes = 4096;

}  // namespace

bool allocate_stack(Tcb* tcb) {
  void* block = nullptr;
  if (posix_memalign(&block, kGuardBytes, tcb->stack_bytes + kGuardBytes) != 0) return false;
  tcb->guard = block;
  tcb->stack = static_cast<char*>(block) + kGuardBytes;
  return true;
}

void free_stack(Tcb* tcb) {
  free(tcb->guard ? tcb->guard : tcb->stack);
  tcb->guard = nullptr;
  tcb->stack = nullptr;
}

Leave run_gpthread(Tcb* tcb) {
  Context exit;
  const int why = gpt_context_save(&exit);
  if (why == 0) {
    t_exit = &exit;
    galloc::guard_stack(tcb->guard);  // here, where it runs
    shim::enter_program();  // on nodes other than the origin: calls are trapped
    if (tcb->migration) resume_migrated(tcb, &exit);
    auto top = (reinterpret_cast<std::uintptr_t>(tcb->stack) + tcb->stack_bytes) & ~std::uintptr_t{15};
    gpt_start_on_stack(reinterpret_cast<void*>(top), body, tcb);
  }
  shim::leave_program();
  galloc::unguard_stack(tcb->guard);
  const auto leave = static_cast<Leave>(why);
  if (leave == Leave::kMigrated) hand_over(tcb);
  else galloc::leave_thread();
  unmap_key_values();  // a finished thread's destructors ran in body()
  return leave;
}

void leave_global_stack(Leave why) { gpt_context_jump(t_exit, static_cast<int>(why)); }

void set_exit_context(Context* exit) { t_exit = exit; }

}  // namespace gpt::threads
