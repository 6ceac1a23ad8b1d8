// The job's range of addresses for dlopen'ed libraries (docs/libc-shim.md,
// "dlopen"): slot i holds the library of entry i of the job's table, at the
// same address on every node.
#pragma once

#include <cstddef>
#include <cstdint>

namespace gpt::dl {

// 16 TiB: below the global space (32 TiB), far above where the kernel puts
// mappings that name no address (just under the stack, near 128 TiB).
inline constexpr std::uintptr_t kSlotBase = std::uintptr_t{16} << 40;
inline constexpr std::size_t kSlotBytes = std::size_t{1} << 30;  // a library and its new dependencies
inline constexpr std::uint32_t kSlots = 256;

[[nodiscard]] constexpr std::uintptr_t slot_address(std::uint32_t i) { return kSlotBase + i * kSlotBytes; }

// The slot whose range holds an address, or kSlots for an address outside
// every slot.
[[nodiscard]] constexpr std::uint32_t slot_holding(std::uintptr_t p) {
  if (p < kSlotBase || p - kSlotBase >= kSlots * kSlotBytes) return kSlots;
  return static_cast<std::uint32_t>((p - kSlotBase) / kSlotBytes);
}

// Loads slot i's library on this node if the job has one there and this
// node has not loaded it (dynamic_loading.cc); normal context, never in a
// signal handler. False if the slot holds no library, or it cannot be
// loaded here: then *why says which (a static string or dlerror's text,
// valid until the thread's next dl call).
[[nodiscard]] bool load_slot_here(std::uint32_t i, const char** why);

// True if the job spreads dlopen'ed libraries over its nodes (several
// nodes, not SPMD, not a fork child). Async-signal-safe once started.
[[nodiscard]] bool libraries_job_wide();

}  // namespace gpt::dl
