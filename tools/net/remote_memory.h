// One-sided access to another node's memory (remote memory access, RMA):
// a data plane that offers it (UcxTransport with UcxOptions::rma) reads a
// home's pages into this node's copy without the home's agent handling a
// message for it. On InfiniBand/RoCE the home's network card serves the
// read; over TCP, UCX emulates it inside the home's worker progress (still
// no service of ours). docs/wire-protocol.md, "RMA", has the trust model;
// docs/coherence.md, "Fetching by RMA", when a fetch may take this path.
//
// Offsets are offsets into the node's memfd layout (gpt/region.h): each node
// exposes the same layout, so a page's offset is the same everywhere.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "wire.h"

namespace gpt::net {

class RemoteMemory {
 public:
  RemoteMemory() = default;
  virtual ~RemoteMemory() = default;
  RemoteMemory(const RemoteMemory&) = delete;
  RemoteMemory& operator=(const RemoteMemory&) = delete;

  // Whether `node` exposed its memory to this one.
  [[nodiscard]] virtual bool reaches(wire::NodeId node) const = 0;
  // Sets `bits` in each of `mark_bytes` bytes from `mark_at` in `node`'s
  // memory, then reads `into.size()` bytes from `read_at` into `into`. The
  // marking is done by atomic ORs on the aligned 8-byte words that hold
  // those bytes (the other bytes of those words are kept): where it runs
  // (the home's network card, or its CPU when emulated) each is a full
  // barrier, and the read is ordered after them. So a thread of the home
  // that stores, fences and then finds the bits not set knows the read sees
  // its store (gpt/sole_copy.h). `into` must stay valid until completed()
  // reports `token`. False: nothing was started (the caller falls back to
  // messages).
  [[nodiscard]] virtual bool mark_then_read(wire::NodeId node, std::uint64_t mark_at, std::uint64_t mark_bytes,
                                            std::uint8_t bits, std::uint64_t read_at, std::span<std::byte> into,
                                            std::uint64_t token) = 0;

  struct Done {
    std::uint64_t token;
    bool ok;  // false: `into` holds nothing usable
  };
  // One operation that finished since the last call, if any. Operations
  // progress while the data plane is polled.
  [[nodiscard]] virtual std::optional<Done> completed() = 0;
};

}  // namespace gpt::net
