// Thread cancellation (docs/threads.md, "Cancellation"). pthread_cancel
// sends the target the libc's own cancel signal, along the path of
// pthread_kill (to whichever node the thread runs on, kept pending for a
// thread that has not started). Its handler marks the cancel pending and,
// if the thread waits in its agent at a cancellation point, withdraws that
// wait (kWithdraw): the call returns -ECANCELED, undoes what it must (a
// condition wait re-locks its mutex) and acts. Asynchronous cancellation
// acts in the handler's stead, on the thread's own stack.
//
// State is per kernel thread, in TLS, and travels with a migration.
#pragma once

#include <cstdint>

#include "gpt/channel_client.h"
#include "runtime.h"

namespace gpt::threads {

// The libc's own cancel signal: neither libc lets programs install a handler
// for it, and gpthread replaces the libc's cancellation.
#ifdef __GLIBC__
inline constexpr int kCancelSignal = 32;
#else
inline constexpr int kCancelSignal = 33;
#endif

// Once per process, before any thread of the program runs.
void install_cancel_handler();

// A cancellation point: if the calling thread was cancelled and
// cancellation is enabled, it acts (and does not return).
void testcancel();
// Whether testcancel would act now (for a wait that must undo something first).
[[nodiscard]] bool cancel_due();

// Acts on the calling thread's cancel: its cleanup handlers run, then it
// ends as by pthread_exit(PTHREAD_CANCELED).
[[noreturn]] void act_on_cancel();

// pthread_exit's work: the cleanup handlers, innermost first, then
// end_thread (pthread_api.cc: key destructors, the thread's end).
[[noreturn]] void exit_thread(void* result);
[[noreturn]] void end_thread(void* result);

// Marks the calling thread cancelled (pthread_cancel of itself); acts at
// once if it is asynchronously cancellable.
void cancel_self();

// Runs body(arg); if the thread is cancelled (or exits) inside it,
// cleanup(arg) runs first among its cleanup handlers, as if body had been
// wrapped in pthread_cleanup_push(cleanup, arg) / pthread_cleanup_pop(0).
void run_with_cleanup(void (*body)(void*), void (*cleanup)(void*), void* arg);

// The thread's start routine returned: it ends without acting on a cancel.
void cancellation_ends();

// What a migration carries (migration.cc): the flags and the innermost
// cleanup handler, and whether a cancel arrived on the node arrived at
// before the thread resumed there.
struct CancelSnapshot {
  std::uint32_t flags;
  void* cleanup;
};
[[nodiscard]] CancelSnapshot save_cancel_state();
// A cancel reached this kernel thread (before the migrated thread resumed).
[[nodiscard]] bool cancel_pending_here();
void restore_cancel_state(const CancelSnapshot& saved, bool cancelled_meanwhile);

// While a cancellable call waits in its slot the cancel handler withdraws
// the wait: begins is Client::call_in_place's slot-published hook; its reply
// hook calls over() first, while the slot is still the caller's.
void cancellable_wait_begins(std::uint32_t slot);
void cancellable_wait_over();

// A call to the agent at a cancellation point: as Client::call, but a
// cancel of the calling thread (also one that came before) ends the wait
// with -ECANCELED, and the caller acts once it has undone its part.
[[nodiscard]] inline channel::CallResult cancellable_call(channel::Op op, const void* request, std::size_t length) {
  channel::Client client(rt::state().channel);
  channel::CallResult result{-7, 0};
  (void)client.call_in_place(
      op, request, length, nullptr, 0,
      [&](std::int32_t status, unsigned char*, std::uint32_t) {
        cancellable_wait_over();
        result = {status, 0};
      },
      [](std::uint32_t slot) { cancellable_wait_begins(slot); });
  return result;
}

}  // namespace gpt::threads
