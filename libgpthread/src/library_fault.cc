// A thread that reaches a dlopen'ed library through a pointer it was handed
// (a function pointer, the address of a library variable), on a node that
// has not loaded the library yet, faults at an address of the library's slot
// (library_slots.h). The SIGSEGV handler sends it here (library_faults.h):
//
// * In the handler: the interrupted context (the kernel's ucontext and its
//   FPU/SSE/AVX state) is copied onto the thread's own stack, below the red
//   zone, and the thread is sent to gpt_library_fault_trampoline with the
//   stack pointer below the copy. The loader cannot run in a signal handler.
// * In normal context: the trampoline loads the slot's library on this node
//   (dynamic_loading.cc, at the same address as everywhere), then returns
//   through rt_sigreturn on the copy, which restores every register, the FPU
//   state and the signal mask, and goes back to the faulting instruction.
// * If the address is still not mapped afterwards (the slot holds no
//   library, or its library does not reach that far, or it cannot be loaded
//   here), the thread remembers the address, the instruction faults again,
//   and the handler reports the crash as usual, saying why first.
//
// Faults inside a signal handler (the thread was on its alternate stack) are
// not redirected: a loader cannot run there either; they are reported.
#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>

#include <cstddef>
#include <cstdint>

#include "diag.h"
#include "gpt/raw_syscall.h"
#include "library_fault.h"
#include "library_faults.h"
#include "library_slots.h"
#include "runtime.h"

extern "C" {
__attribute__((visibility("hidden"))) void gpt_resolve_library_fault(ucontext_t* resume, std::uint32_t slot,
                                                                     std::uintptr_t address);
__attribute__((visibility("hidden"))) void gpt_library_fault_trampoline();
}

namespace {

using gpt::dl::kSlots;

constexpr std::uintptr_t kRedZone = 128;  // below the stack pointer, the interrupted code's own
constexpr std::size_t kLegacyFpBytes = 512;  // fxsave's area, when the kernel saved no more
constexpr std::size_t kXsaveAlign = 64;
// The kernel's ucontext: glibc's up to and including the first word of
// uc_sigmask (the kernel's sigset is one word; glibc's struct goes on).
constexpr std::size_t kKernelUcontextBytes = offsetof(ucontext_t, uc_sigmask) + sizeof(std::uint64_t);
// In the fxsave area: where the kernel says how much extended state follows.
constexpr std::size_t kSwReservedAt = 464;
constexpr std::uint32_t kXstateMagic1 = 0x46505853;  // FP_XSTATE_MAGIC1
constexpr greg_t kDirectionFlag = 0x400;

struct SwReserved {
  std::uint32_t magic1;
  std::uint32_t extended_size;  // the whole area, fxsave part included
};

// The address this thread was sent back to after a load that did not map
// it (0: none), and why.
thread_local std::uintptr_t t_unresolved __attribute__((tls_model("initial-exec")));
thread_local char t_why[256] __attribute__((tls_model("initial-exec")));

[[nodiscard]] std::size_t fp_state_bytes(const void* fp) {
  if (!fp) return 0;
  SwReserved sw;
  memcpy(&sw, static_cast<const std::byte*>(fp) + kSwReservedAt, sizeof sw);
  return sw.magic1 == kXstateMagic1 ? sw.extended_size : kLegacyFpBytes;
}

// The trampoline runs C++ code: an empty x87 stack, as the ABI says at a
// call (the interrupted code's own state comes back with the copy).
void clean_fp_state(void* fp) {
  if (!fp) return;
  auto* legacy = static_cast<std::byte*>(fp);
  const std::uint16_t status = 0;  // x87 status word: top of stack 0
  const std::uint8_t tags = 0;     // fxsave's abridged tag word: every register empty
  memcpy(legacy + 2, &status, sizeof status);
  memcpy(legacy + 4, &tags, sizeof tags);
}

// Sends the interrupted thread to the trampoline (signal handler).
void redirect(ucontext_t* uc, std::uint32_t slot, std::uintptr_t address) {
  greg_t* regs = uc->uc_mcontext.gregs;
  void* fp = uc->uc_mcontext.fpregs;
  const std::size_t fp_bytes = fp_state_bytes(fp);
  std::uintptr_t sp = static_cast<std::uintptr_t>(regs[REG_RSP]) - kRedZone;
  sp = (sp - fp_bytes) & ~(kXsaveAlign - 1);
  auto* fp_copy = reinterpret_cast<void*>(sp);
  if (fp) memcpy(fp_copy, fp, fp_bytes);
  sp = (sp - kKernelUcontextBytes) & ~std::uintptr_t{15};
  auto* resume = reinterpret_cast<ucontext_t*>(sp);
  memcpy(resume, uc, kKernelUcontextBytes);
  resume->uc_mcontext.fpregs = fp ? static_cast<fpregset_t>(fp_copy) : nullptr;
  // The trampoline's stack: 16-byte aligned before its call, as the ABI says.
  sp = (sp - 16) & ~std::uintptr_t{15};
  regs[REG_RSP] = static_cast<greg_t>(sp);
  regs[REG_RIP] = reinterpret_cast<greg_t>(&gpt_library_fault_trampoline);
  regs[REG_RDI] = reinterpret_cast<greg_t>(resume);
  regs[REG_RSI] = static_cast<greg_t>(slot);
  regs[REG_RDX] = static_cast<greg_t>(address);
  regs[REG_EFL] &= ~kDirectionFlag;  // the ABI's, at a call
  clean_fp_state(fp);
}

void say_why(std::uintptr_t address, std::uint32_t slot) {
  gpt::rt::diag()
      .text("address ")
      .hex(address)
      .text(" is in the job's range of dlopen'ed libraries (slot ")
      .num(slot)
      .text(") but nothing is mapped there on node ")
      .num(gpt::rt::state().node_id)
      .text(": ")
      .text(t_why)
      .emit();
}

// The SIGSEGV handler's hook (library_faults.h). Async-signal-safe.
bool on_library_fault(const siginfo_t* info, void* context) {
  const auto address = reinterpret_cast<std::uintptr_t>(info->si_addr);
  const std::uint32_t slot = gpt::dl::slot_holding(address);
  if (slot == kSlots || info->si_code != SEGV_MAPERR || !gpt::dl::libraries_job_wide()) return false;
  if (t_unresolved == address) {  // loaded (or tried) already: a real crash
    t_unresolved = 0;
    say_why(address, slot);
    return false;
  }
  auto* uc = static_cast<ucontext_t*>(context);
  if (uc->uc_stack.ss_flags & SS_ONSTACK) return false;  // in a signal handler
  redirect(uc, slot, address);
  return true;
}

[[nodiscard]] bool mapped(std::uintptr_t address) {
  unsigned char resident;
  const std::uintptr_t page = address & ~std::uintptr_t{4095};
  return gpt::sys::call(SYS_mincore, gpt::sys::arg(page), 4096, gpt::sys::arg(&resident)) != -ENOMEM;
}

void remember(const char* why) {
  const std::size_t n = strnlen(why, sizeof t_why - 1);
  memcpy(t_why, why, n);
  t_why[n] = '\0';
}

}  // namespace

void gpt::dl::install_library_fault_hook() { gpt::galloc::set_library_fault_hook(on_library_fault); }

// Normal context, on the faulting thread's stack, below the copy of its
// interrupted context.
void gpt_resolve_library_fault(ucontext_t* resume, std::uint32_t slot, std::uintptr_t address) {
  const int saved_errno = errno;
  const char* why = nullptr;
  const bool loaded = gpt::dl::load_slot_here(slot, &why);
  if (mapped(address)) {
    t_unresolved = 0;
  } else {
    t_unresolved = address;
    remember(loaded ? "the library there does not reach this address" : why);
  }
  // rt_sigreturn sets the alternate signal stack from the copy: this kernel
  // thread's, now (a thread may have moved to another node while it waited).
  stack_t current;
  if (gpt::sys::call(SYS_sigaltstack, 0, gpt::sys::arg(&current)) == 0) {
    current.ss_flags &= ~SS_ONSTACK;
    resume->uc_stack = current;
  }
  errno = saved_errno;
}

// Calls gpt_resolve_library_fault(resume, slot, address), then returns to
// the interrupted code through rt_sigreturn on `resume` (the restorer every
// gpthread signal handler returns through, whose system call is never
// trapped). Unwinders stop here.
__asm__(R"(
  .text
  .globl gpt_library_fault_trampoline
  .hidden gpt_library_fault_trampoline
  .type gpt_library_fault_trampoline, @function
gpt_library_fault_trampoline:
  .cfi_startproc
  .cfi_undefined rip
  mov %rdi, %rbx
  call gpt_resolve_library_fault
  mov %rbx, %rsp
  jmp gpt_signal_restorer
  .cfi_endproc
  .size gpt_library_fault_trampoline, .-gpt_library_fault_trampoline
)");
