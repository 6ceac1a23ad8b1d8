// A thread's execution context, small enough to travel: what a function
// call must preserve (callee-saved registers, stack pointer, where to go
// on), the FP control state, and the stack-protector canary, so that frames
// made on one node pass their canary checks on another (docs/threads.md).
#pragma once

#include <cstddef>
#include <cstdint>

namespace gpt::rt {

struct Context {
  std::uint64_t rbx, rbp, r12, r13, r14, r15;
  std::uint64_t rsp, rip;
  std::uint64_t canary;  // %fs:0x28 (musl and glibc on x86-64)
  std::uint32_t mxcsr;
  std::uint16_t fpu_control;
  std::uint16_t pad;
};
static_assert(offsetof(Context, canary) == 64 && offsetof(Context, mxcsr) == 72 &&
              offsetof(Context, fpu_control) == 76);

}  // namespace gpt::rt

extern "C" {
// setjmp without the signal mask: 0 when saving, the jump's value (never 0)
// when a gpt_context_jump comes back to it, on this node or another.
__attribute__((returns_twice)) int gpt_context_save(gpt::rt::Context* ctx);
[[noreturn]] void gpt_context_jump(const gpt::rt::Context* ctx, int value);
// Calls fn(arg) with the stack pointer at `top`, as the outermost frame
// (unwinders stop there); fn must never return.
[[noreturn]] void gpt_start_on_stack(void* top, void (*fn)(void*), void* arg);
// Calls fn(arg) with the stack pointer at `top` and returns when it does
// (call_on_stack.S): for work that must not run on the caller's stack.
void gpt_call_on_private(void* top, void (*fn)(void*), void* arg);
}
