// gpt_migrate (docs/threads.md, "Migration"). What travels: the context
// (context.h: registers, FP control, canary), the program's TLS image
// (__thread variables of the executable), thread-specific values, errno and
// the signal mask. The stack does not need to: it is in the global space,
// released before the move and fetched page by page where it is touched.
#include "migration.h"

#include <errno.h>
#include <link.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cstddef>

#include "cancel.h"
#include "coherence.h"
#include "diag.h"
#include "global_space.h"
#include "gpt/channel_client.h"
#include "gpthread.h"
#include "runtime.h"
#include "service.h"
#include "sync_common.h"
#include "thread_body.h"
#include "thread_state.h"
#include "vehicles.h"

#define GPT_API extern "C" __attribute__((visibility("default")))

namespace gpt::threads {
namespace {

struct MigrationRecord {
  Context context;
  std::uint64_t signal_mask;  // the kernel's sigset (64 signals)
  int saved_errno;
  CancelSnapshot cancel;  // kept in the runtime's TLS, which does not travel
  std::uint32_t key_count;
  std::size_t tls_bytes;
  // Then key_count KeyValues, then tls_bytes of TLS image.
  [[nodiscard]] KeyValue* keys() { return reinterpret_cast<KeyValue*>(this + 1); }
  [[nodiscard]] std::byte* tls() { return reinterpret_cast<std::byte*>(keys() + key_count); }
};

// The executable's TLS block for the calling thread (its __thread
// variables; in a static program also libc's and the runtime's, which
// resume_migrated sets again). Shared libraries' TLS does not travel.
struct TlsBlock {
  std::byte* data = nullptr;
  std::size_t bytes = 0;
};

TlsBlock executable_tls() {
  TlsBlock block;
  dl_iterate_phdr(
      [](dl_phdr_info* info, std::size_t, void* out) -> int {
        auto* b = static_cast<TlsBlock*>(out);
        for (int i = 0; i < info->dlpi_phnum; ++i)
          if (info->dlpi_phdr[i].p_type == PT_TLS) {
            b->bytes = info->dlpi_phdr[i].p_memsz;
            b->data = static_cast<std::byte*>(info->dlpi_tls_data);
          }
        return 1;  // the executable comes first: stop there
      },
      &block);
  if (block.bytes && !block.data) rt::die("cannot find this thread's TLS block", 134);
  return block;
}

std::uint64_t signal_mask() {
  std::uint64_t mask = 0;
  syscall(SYS_rt_sigprocmask, SIG_BLOCK, nullptr, &mask, sizeof mask);
  return mask;
}

void set_signal_mask(std::uint64_t mask) {
  syscall(SYS_rt_sigprocmask, SIG_SETMASK, &mask, nullptr, sizeof mask);
}

}  // namespace

thread_local std::uint32_t t_locks_held __attribute__((tls_model("initial-exec")));

void hand_over(Tcb* tcb) {
  auto* record = static_cast<MigrationRecord*>(tcb->migration);
  TlsBlock tls = executable_tls();
  if (tls.bytes != record->tls_bytes) rt::die("the TLS block changed size during a migration", 134);
  memcpy(record->tls(), tls.data, tls.bytes);
  // What this kernel thread cached belongs to this node; then everything the
  // thread wrote (its stack, the record) goes home before it runs elsewhere.
  galloc::leave_thread();
  galloc::release();
  const channel::MigrateRequest request{tcb->node, 0, reinterpret_cast<std::uintptr_t>(tcb)};
  channel::Client client(rt::state().channel);
  if (client.call(channel::Op::kMigrate, request).status != 0)
    rt::die("the agent refused to migrate a thread", 134);
}

void resume_migrated(Tcb* tcb, Context* exit) {
  auto* record = static_cast<MigrationRecord*>(tcb->migration);
  TlsBlock tls = executable_tls();
  if (tls.bytes != record->tls_bytes)
    rt::die("a thread migrated from a program with another TLS layout (same binary on every node?)", 134);
  // A cancel that reached this node before the thread ran here (raised as
  // its vehicle started), or came while it was between nodes (its mark).
  const bool cancelled = cancel_pending_here() || __atomic_load_n(&tcb->cancel_requested, __ATOMIC_ACQUIRE) != 0;
  memcpy(tls.data, record->tls(), tls.bytes);
  // The image carried the other node's runtime state: this node's again.
  galloc::forget_thread_state();
  set_current(tcb);
  set_exit_context(exit);
  load_key_values(record->keys(), record->key_count);
  restore_cancel_state(record->cancel, cancelled);
  tcb->kernel_tid = static_cast<std::int32_t>(syscall(SYS_gettid));
  set_signal_mask(record->signal_mask);
  const Context context = record->context;
  const int saved_errno = record->saved_errno;
  tcb->migration = nullptr;
  free(record);
  errno = saved_errno;
  gpt_context_jump(&context, 1);
}

}  // namespace gpt::threads

using namespace gpt;
using namespace gpt::threads;

GPT_API int gpt_migrate(int node) {
  rt::ensure_started();
  const int saved_errno = errno;
  if (node < 0 || node >= rt::state().node_count) return EINVAL;
  if (!galloc::space().coherent) return 0;  // one node: already there
  Tcb* tcb = current();
  if (!tcb || !tcb->start) {
    rt::diag().text("gpt_migrate: only threads started by gpthread (and main) can migrate").emit();
    return ENOTSUP;
  }
  if (static_cast<std::uint32_t>(node) == tcb->node) return 0;
  if (tcb->given_stack == kStackOfThisNode) {
    rt::diag().text("gpt_migrate: this thread runs on a stack the program gave outside the global space "
                    "(pthread_attr_setstack), which other nodes cannot reach").emit();
    return ENOTSUP;
  }
  if (locks_held()) return EBUSY;
  static std::atomic<bool> warned{false};
  if (!vehicles::thread_pointer_in(tcb->slot) && !warned.exchange(true))
    rt::diag().text("gpt_migrate: this program's TLS block is too large for the libc to place it in the "
                    "thread's slot: errno and __thread variables change address when a thread migrates "
                    "(docs/threads.md)").emit();
  const std::uint32_t keys = save_key_values(nullptr, kMaxKeyValues);
  const std::size_t tls_bytes = executable_tls().bytes;
  auto* record = static_cast<MigrationRecord*>(
      malloc(sizeof(MigrationRecord) + keys * sizeof(KeyValue) + tls_bytes));
  if (!record) return ENOMEM;
  record->signal_mask = signal_mask();
  record->saved_errno = saved_errno;
  record->cancel = save_cancel_state();
  record->key_count = save_key_values(record->keys(), keys);
  record->tls_bytes = tls_bytes;
  tcb->migration = record;
  // Until it runs there, a signal for it waits in the control block (a
  // kernel thread id of this node means nothing on that one).
  __atomic_store_n(&tcb->kernel_tid, 0, __ATOMIC_RELEASE);
  tcb->node = static_cast<std::uint32_t>(node);
  if (gpt_context_save(&record->context) == 0) leave_global_stack(Leave::kMigrated);
  // Resumed on `node`.
  return 0;
}
