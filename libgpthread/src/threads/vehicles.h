// Vehicle slots (docs/threads.md, "Migration"). A gpthread thread runs on a
// kernel thread of the node it is on, its "vehicle". Every vehicle of one
// thread, on whatever node, is given the same slot of private memory as its
// libc stack, at an address that names the thread; glibc always, and musl
// when the TLS block is small (< ~700 bytes of the program's __thread
// data), put the thread descriptor and TLS block at the top of that stack.
// So errno's address and the __thread variables' addresses are the same on
// every node, and pointers to them survive migration: compilers keep
// errno's address in a register across calls, so this matters.
//
// Slots are private to each node (never shared): only the addresses agree.
// The creating node allocates a slot from its range; it is freed when the
// thread has ended (the home agent sends kFreeSlot).
#pragma once

#include <cstddef>
#include <cstdint>

namespace gpt::threads::vehicles {

inline constexpr std::uintptr_t kBase = 0x1e0000000000;
inline constexpr std::size_t kSlotBytes = 256 * 1024;
// The slots' addresses run up to the global space (region::kRegionBase):
// 2 TiB, shared out equally between the nodes, up to 65536 slots (threads
// alive at once that one node created) each: 65536 for jobs of up to 128
// nodes, 8192 for 1024.
inline constexpr std::uint32_t kMaxSlotsPerNode = 65536;
inline constexpr std::uint32_t kNoSlot = ~0u;

// Reserves (without memory) the addresses of every node's slots; dies with
// a clear message if they are taken. Every node computes the same share.
void reserve(int node_count);
[[nodiscard]] std::uint32_t slots_per_node();

// A free slot of this node's range, or kNoSlot.
[[nodiscard]] std::uint32_t allocate();
void free_slot(std::uint32_t slot);

// Gives a slot memory for a vehicle (returns its lowest address), or takes
// it back once the vehicle is gone.
[[nodiscard]] void* map(std::uint32_t slot);
void unmap(std::uint32_t slot);

// True if the calling kernel thread's descriptor lies in `slot` (the libc
// placed it there), i.e. its TLS addresses will be the same on every node.
[[nodiscard]] bool thread_pointer_in(std::uint32_t slot);

}  // namespace gpt::threads::vehicles
