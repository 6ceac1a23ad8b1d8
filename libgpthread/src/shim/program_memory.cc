#include "program_memory.h"

#include <cstdint>
#include <cstring>

#include "context.h"
#include "global_space.h"

namespace gpt::shim {
namespace {

// Runs copy() with faults turned into a jump back here.
template <class F>
bool guarded(F copy) {
  threads::Context escape;
  void* const outer = galloc::t_fault_escape;
  if (gpt_context_save(&escape) != 0) {
    galloc::t_fault_escape = outer;
    return false;
  }
  galloc::t_fault_escape = &escape;
  copy();
  galloc::t_fault_escape = outer;
  return true;
}

}  // namespace

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
