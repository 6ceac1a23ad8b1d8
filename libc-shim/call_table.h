// Which system calls a thread on a remote node has carried out on the origin,
// and the shape of their arguments (docs/libc-shim.md has the whole table).
#pragma once

#include <cstdint>

namespace gpt::shim {

enum class Arg : std::uint8_t {
  kValue,       // passed as it is
  kPath,        // a NUL-terminated string that goes in
  kBufIn,       // bytes that go in; `size` is the index of the length argument
  kBufOut,      // room for bytes that come back; `size` is the length argument
  kFixedIn,     // `size` bytes go in
  kFixedOut,    // `size` bytes come back
  kFixedInOut,  // `size` bytes go in and come back
};

struct ArgShape {
  Arg kind = Arg::kValue;
  std::uint16_t size = 0;
};

struct CallShape {
  long nr;
  const char* name;
  ArgShape args[6];
};

// The shape of a call forwarded as it is, or nullptr (local, or handled
// specially by the dispatcher: vectored I/O, ioctl, fcntl, exit, signals).
[[nodiscard]] const CallShape* forwarded_shape(long nr);

// ioctl and fcntl: the shape depends on the request; nullptr if gpthread
// cannot forward that request.
[[nodiscard]] const CallShape* ioctl_shape(unsigned long request);
[[nodiscard]] const CallShape* fcntl_shape(int command);

}  // namespace gpt::shim
