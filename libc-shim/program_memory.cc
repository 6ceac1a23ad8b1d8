#include "program_memory.h"

#include <cstdint>
#include <cstring>

#include "context.h"

namespace gpt::shim {
namespace {

// While set on a thread, a fault that is not a coherence fault jumps back to
// this context (gpt_context_jump(escape, 1)) instead of being reported.
// Volatile: the SIGSEGV handler reads it in the middle of a copy, where the
// compiler sees no reader and would drop the store.
thread_local rt::Context* volatile t_fault_escape __attribute__((tls_model("initial-exec")));

// Runs copy() with faults turned into a jump back here.
template <class F>
bool guarded(F copy) {
  rt::Context escape;
  rt::Context* const outer = t_fault_escape;
  if (gpt_context_save(&escape) != 0) {
    t_fault_escape = outer;
    return false;
  }
  t_fault_escape = &escape;
  copy();
  t_fault_escape = outer;
  return true;
}

}  // namespace

void escape_from_guarded_copy() {
  if (rt::Context* escape = t_fault_escape) {
    t_fault_escape = nullptr;
    gpt_context_jump(escape, 1);
  }
}

bool copy_from_program(void* to, const void* from, std::size_t n) {
  return guarded([&] { std::memcpy(to, from, n); });
}

bool copy_to_program(void* to, const void* from, std::size_t n) {
  return guarded([&] { std::memcpy(to, from, n); });
}

bool program_writable(void* p, std::size_t n) {
  if (n == 0) return true;
  return guarded([&] {
    auto* first = static_cast<volatile unsigned char*>(p);
    const auto last = reinterpret_cast<std::uintptr_t>(first) + n - 1;
    for (auto at = reinterpret_cast<std::uintptr_t>(first); at <= last; at = (at | 4095) + 1) {
      auto* byte = reinterpret_cast<volatile unsigned char*>(at);
      *byte = *byte;
    }
    auto* end = reinterpret_cast<volatile unsigned char*>(last);
    *end = *end;
  });
}

long program_strnlen(const char* s, std::size_t max) {
  volatile long n = 0;
  bool ok = guarded([&] {
    const volatile char* p = s;
    while (static_cast<std::size_t>(n) < max && p[n]) n = n + 1;
  });
  return ok ? n : -1;
}

}  // namespace gpt::shim
