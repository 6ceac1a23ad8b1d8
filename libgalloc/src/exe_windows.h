// The executable's own pages as windows of the global space, for a program
// started with gpt-launch --preload (not linked by gpt-cc, so without the
// link script's windows). The launcher decided which link-time pages are
// shared (tools/gpt-launch/preload.cc); here they are found at this process's
// load base, which address-space randomisation being off makes the same on
// every node. That is checked: node 0 publishes where the executable and
// each library sit in one more window (the layout page, at a fixed address
// below the heap), and every other node compares after the start-up barrier.
#pragma once

#include <cstddef>
#include <cstdint>

#include "gpt/region.h"

namespace gpt::galloc::exe_windows {

// A page-aligned range of link-time addresses of the executable.
struct Range {
  std::uintptr_t start = 0;
  std::uintptr_t end = 0;
};
inline constexpr int kMaxRanges = region::kGlobalWindows - 1;  // one more for the layout page

// Before map_global_space: the executable's pages to share (possibly none).
// Ends the process with a clear message if they are not writable pages of
// this executable.
void request(const Range* ranges, int count);
[[nodiscard]] bool requested();

// For map_global_space: fills windows[used..capacity) with the requested
// ranges at the load base and the layout page (mapped here, zero-filled);
// returns the new number of windows in use.
[[nodiscard]] int add_windows(region::Window* windows, int used, int capacity, std::uintptr_t heap_base);

// The layout check, no-ops unless requested() with more than one node:
// node 0 publishes after map_global_space, before the start-up barrier;
// after it, every other node compares (and ends the process if it differs),
// then all meet at one more barrier, so that main starts only if every node
// agreed.
void publish_layout();
void check_layout();

}  // namespace gpt::galloc::exe_windows
