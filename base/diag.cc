#include "diag.h"

#include <unistd.h>

#include "gpt/raw_syscall.h"
#include "runtime.h"

namespace gpt::rt {

DiagLine& DiagLine::text(const char* s) {
  while (s && *s && len_ < sizeof buf_ - 1) buf_[len_++] = *s++;
  return *this;
}

DiagLine& DiagLine::num(long long v) {
  char tmp[24];
  int n = 0;
  unsigned long long u = v < 0 ? 0ull - static_cast<unsigned long long>(v)
                               : static_cast<unsigned long long>(v);
  do {
    tmp[n++] = static_cast<char>('0' + u % 10);
    u /= 10;
  } while (u);
  if (v < 0 && len_ < sizeof buf_ - 1) buf_[len_++] = '-';
  while (n && len_ < sizeof buf_ - 1) buf_[len_++] = tmp[--n];
  return *this;
}

DiagLine& DiagLine::hex(std::uintptr_t v) {
  text("0x");
  char tmp[16];
  int n = 0;
  do {
    tmp[n++] = "0123456789abcdef"[v & 15];
    v >>= 4;
  } while (v);
  while (n && len_ < sizeof buf_ - 1) buf_[len_++] = tmp[--n];
  return *this;
}

void DiagLine::emit() {
  buf_[len_++] = '\n';
  std::size_t off = 0;
  while (off < len_) {
    long w = sys::call(SYS_write, 2, sys::arg(buf_ + off), static_cast<long>(len_ - off));
    if (w <= 0) break;
    off += static_cast<std::size_t>(w);
  }
  len_ = 0;
}

DiagLine diag() {
  DiagLine line;
  line.text("gpthread[node ").num(state().node_id).text("]: ");
  return line;
}

void die(const char* message, int status) {
  diag().text(message).emit();
  _exit(status);
}

}  // namespace gpt::rt
