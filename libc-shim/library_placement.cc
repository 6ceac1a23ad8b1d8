// The placement of a dlopen'ed object's mappings (library_placement.h).
//
// Which of ld.so's mappings starts an object (glibc's _dl_map_segment):
// either the first segment of the file, mapped MAP_PRIVATE | MAP_DENYWRITE
// (glibc's MAP_COPY) with no address, or, for an object whose segments want
// more than page alignment, a PROT_NONE anonymous reservation with no
// address that the segments are then mapped into with MAP_FIXED. Other
// mappings ld.so makes during a dlopen (ld.so.cache, read with a plain
// MAP_PRIVATE) keep the kernel's address.
#include "library_placement.h"

#include <errno.h>
#include <sys/mman.h>

namespace gpt::shim {
namespace {

constexpr long kMapDenywrite = 0x800;
// Objects placed one after the other start on 2 MiB boundaries (what
// ld.so's largest usual segment alignment asks for).
constexpr std::uintptr_t kObjectAlign = std::uintptr_t{2} << 20;

struct Placement {
  std::uintptr_t next = 0;  // 0: no placement on this thread
  std::uintptr_t end = 0;
  bool placed = false;
};
thread_local Placement t_placement __attribute__((tls_model("initial-exec")));

[[nodiscard]] bool starts_an_object(const long* a) {
  const long flags = a[3];
  if (a[0] != 0 || (flags & (MAP_FIXED | MAP_FIXED_NOREPLACE))) return false;
  if (flags & MAP_ANONYMOUS) return a[2] == PROT_NONE;
  return (flags & kMapDenywrite) != 0;
}

}  // namespace

LibraryPlacement::LibraryPlacement(std::uintptr_t base, std::size_t room) {
  t_placement = {base, base + room, false};
}

LibraryPlacement::~LibraryPlacement() { t_placement.next = 0; }

bool LibraryPlacement::placed() const { return t_placement.placed; }

bool place_library_mapping(long* a, long* result) {
  Placement& p = t_placement;
  if (p.next == 0 || !starts_an_object(a)) return false;
  const auto length = static_cast<std::uintptr_t>(a[1]);
  if (length == 0 || length > p.end - p.next) {
    *result = -ENOMEM;
    return true;
  }
  a[0] = static_cast<long>(p.next);
  a[3] |= MAP_FIXED_NOREPLACE;
  p.placed = true;
  const std::uintptr_t after = (p.next + length + kObjectAlign - 1) & ~(kObjectAlign - 1);
  p.next = after < p.end ? after : p.end;
  return false;
}

}  // namespace gpt::shim
