// Diagnostics the runtime prints without any allocation, lock or stdio:
// usable before main, after a crash and inside signal handlers.
#pragma once

#include <cstddef>
#include <cstdint>

namespace gpt::rt {

// A fixed buffer that formats text, numbers and hex and writes it to fd 2 in
// one write(2), so lines from several threads do not interleave.
class DiagLine {
 public:
  DiagLine& text(const char* s);
  DiagLine& num(long long v);
  DiagLine& hex(std::uintptr_t v);
  // Writes the line (adding '\n') to stderr.
  void emit();

 private:
  char buf_[512];
  std::size_t len_ = 0;
};

// "gpthread[node N]: <message>" on stderr.
DiagLine diag();

// Prints the message and ends the process with `status` (no atexit handlers).
[[noreturn]] void die(const char* message, int status);

}  // namespace gpt::rt
