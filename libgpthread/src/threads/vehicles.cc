#include "vehicles.h"

#include <sys/mman.h>

#include "diag.h"
#include "futex_lock.h"
#include "gpt/region.h"
#include "runtime.h"
#include "local_memory.h"

namespace gpt::threads::vehicles {
namespace {

std::uint64_t g_used[kMaxSlotsPerNode / 64];  // this node's range; runtime-private
std::uint32_t g_slots_per_node = kMaxSlotsPerNode;  // set by reserve()
FutexLock g_lock;

void* slot_address(std::uint32_t slot) {
  return reinterpret_cast<void*>(kBase + std::uintptr_t{slot} * kSlotBytes);
}

}  // namespace

std::uint32_t slots_per_node() { return g_slots_per_node; }

void reserve(int node_count) {
  static_assert(region::kRegionBase > kBase);
  const std::size_t share = (region::kRegionBase - kBase) / static_cast<std::size_t>(node_count) / kSlotBytes;
  g_slots_per_node = static_cast<std::uint32_t>(share < kMaxSlotsPerNode ? share & ~std::size_t{63} : kMaxSlotsPerNode);
  const std::size_t bytes = std::size_t(node_count) * g_slots_per_node * kSlotBytes;
  void* want = reinterpret_cast<void*>(kBase);
  void* p = rt::map_local(want, bytes, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE,
                 -1, 0);
  if (p != want) {
    rt::diag().text("cannot reserve the thread slots at ").hex(kBase).text(" (something is mapped there)").emit();
    _exit(127);
  }
}

std::uint32_t allocate() {
  Held<FutexLock> hold(g_lock);
  for (std::size_t w = 0; w < g_slots_per_node / 64; ++w)
    if (~g_used[w]) {
      const int bit = __builtin_ctzll(~g_used[w]);
      g_used[w] |= std::uint64_t{1} << bit;
      return static_cast<std::uint32_t>(rt::state().node_id) * g_slots_per_node +
             static_cast<std::uint32_t>(w * 64 + bit);
    }
  return kNoSlot;
}

void free_slot(std::uint32_t slot) {
  const std::uint32_t first = static_cast<std::uint32_t>(rt::state().node_id) * g_slots_per_node;
  if (slot < first || slot >= first + g_slots_per_node) return;
  const std::uint32_t i = slot - first;
  Held<FutexLock> hold(g_lock);
  g_used[i / 64] &= ~(std::uint64_t{1} << (i % 64));
}

void* map(std::uint32_t slot) {
  void* p = rt::map_local(slot_address(slot), kSlotBytes, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
  if (p == MAP_FAILED) rt::die("cannot map a thread's vehicle slot", 134);
  return p;
}

void unmap(std::uint32_t slot) {
  // Back to a reservation: the memory goes, the addresses stay ours.
  (void)rt::map_local(slot_address(slot), kSlotBytes, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED,
       -1, 0);
}

bool thread_pointer_in(std::uint32_t slot) {
  std::uintptr_t tp;
  asm("mov %%fs:0, %0" : "=r"(tp));
  const auto base = reinterpret_cast<std::uintptr_t>(slot_address(slot));
  return tp >= base && tp < base + kSlotBytes;
}

}  // namespace gpt::threads::vehicles
