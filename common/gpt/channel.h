// The shared-memory channel between a node's agent and its application
// process: one memfd, created by the agent, mapped by both.
//
// Layout: a Header, then kSlotCount request slots. An application thread
// makes a synchronous call to its agent by claiming a free slot, writing the
// request, publishing it (state kRequest) and ringing the agent's doorbell;
// the agent's channel server serves it, writes the reply (state kReply) and
// wakes the waiting thread with a futex on the slot's state word. No locks,
// no allocation: the client side is async-signal-safe, so the page-fault
// handler can use it. The agent tells the application to end through
// `shutdown` (a futex word the worker threads wait on).
//
// This header is shared by glibc C++20 code and the freestanding runtime:
// only <atomic>/<cstdint>/<cstddef>, no library calls.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace gpt::channel {

inline constexpr std::uint64_t kMagic = 0x4c4e4e4148435047ull;  // "GPCHANNL"
inline constexpr std::uint32_t kVersion = 1;
inline constexpr std::uint32_t kSlotCount = 64;
inline constexpr std::size_t kSlotBytes = 16384;

enum class SlotState : std::uint32_t {
  kFree = 0,     // nobody owns it
  kClaimed = 1,  // an application thread is writing a request
  kRequest = 2,  // published, waiting for the agent
  kServing = 3,  // the agent is working on it
  kReply = 4,    // reply written; the claiming thread reads it and frees it
};

enum class Op : std::uint32_t {
  kEcho = 1,  // reply = request payload (health check, benchmarks)
};

struct alignas(64) SlotHeader {
  std::atomic<std::uint32_t> state;
  std::uint32_t op;
  std::uint32_t length;  // valid payload bytes (request, then reply)
  std::int32_t status;   // reply status: 0, or a negative errno
};

inline constexpr std::size_t kSlotPayload = kSlotBytes - sizeof(SlotHeader);

struct alignas(64) Slot {
  SlotHeader h;
  unsigned char payload[kSlotPayload];
};
static_assert(sizeof(Slot) == kSlotBytes);

struct alignas(64) Header {
  std::uint64_t magic;
  std::uint32_t version;
  std::uint32_t node_id;
  std::uint32_t node_count;
  std::uint32_t slot_count;
  // Bumped by the application after publishing a request; the agent's server
  // futex-waits on it.
  alignas(64) std::atomic<std::uint32_t> agent_doorbell;
  // Set to 1 by the agent when the job ends; worker threads wait on it.
  alignas(64) std::atomic<std::uint32_t> shutdown;
};

struct Layout {
  Header header;
  Slot slots[kSlotCount];
};

inline constexpr std::size_t kChannelBytes = sizeof(Layout);

static_assert(std::atomic<std::uint32_t>::is_always_lock_free,
              "channel words must be lock-free to work across processes");

}  // namespace gpt::channel
