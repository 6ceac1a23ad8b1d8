#include "preload_attach.h"

#include <stdlib.h>

#include <cstring>

#include "diag.h"
#include "exe_windows.h"

extern char** environ;

namespace gpt::rt::preload {
namespace {

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Parses a hex number at *s, advancing it; false if there is none.
bool parse_hex(const char*& s, std::uintptr_t& out) {
  out = 0;
  const char* start = s;
  for (int d; (d = hex_digit(*s)) >= 0 && s - start < 16; ++s) out = out * 16 + static_cast<std::uintptr_t>(d);
  return s != start;
}

// "start-end,start-end..." or "none"; -1 if malformed.
int parse_ranges(const char* s, galloc::exe_windows::Range* out, int capacity) {
  if (std::strcmp(s, "none") == 0) return 0;
  int n = 0;
  while (*s) {
    if (n == capacity) return -1;
    if (!parse_hex(s, out[n].start) || *s++ != '-' || !parse_hex(s, out[n].end)) return -1;
    ++n;
    if (*s == ',') ++s;
    else if (*s) return -1;
  }
  return n;
}

// Takes `library` off the front of LD_PRELOAD (where the agent put it), in
// place: the environment may not be reallocated this early (malloc is ours
// and not ready yet).
void drop_from_ld_preload(const char* library) {
  const std::size_t len = std::strlen(library);
  for (char** e = environ; e && *e; ++e) {
    if (std::strncmp(*e, "LD_PRELOAD=", 11) != 0) continue;
    char* value = *e + 11;
    if (std::strncmp(value, library, len) != 0) return;
    const char* rest = value + len;
    if (*rest == ':' || *rest == ' ') ++rest;
    if (!*rest) {
      unsetenv("LD_PRELOAD");
    } else {
      std::memmove(value, rest, std::strlen(rest) + 1);
    }
    return;
  }
}

}  // namespace

void attach() {
  const char* spec = getenv("GPT_PRELOAD_SHARE");
  if (!spec) return;
  galloc::exe_windows::Range ranges[galloc::exe_windows::kMaxRanges];
  const int count = parse_ranges(spec, ranges, galloc::exe_windows::kMaxRanges);
  if (count < 0) die("--preload: GPT_PRELOAD_SHARE is malformed (set by something other than gpt-launch?)", 2);
  galloc::exe_windows::request(ranges, count);
  if (const char* library = getenv("GPT_PRELOAD")) drop_from_ld_preload(library);
  if (getenv("GPT_PRELOAD_BIND_NOW")) {
    unsetenv("LD_BIND_NOW");
    unsetenv("GPT_PRELOAD_BIND_NOW");
  }
  unsetenv("GPT_PRELOAD");
  unsetenv("GPT_PRELOAD_SHARE");
}

}  // namespace gpt::rt::preload
