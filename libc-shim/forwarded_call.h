// A system call carried from a remote node to the origin (docs/libc-shim.md):
// the request blob a remote thread's SIGSYS handler packs, and the reply the
// origin's delegate sends back. The agents carry both without looking in.
//
// Request: ForwardHeader, then the input bytes of each pointer argument in
// argument order. Reply: ForwardReply, then the output bytes of each pointer
// argument in argument order. The delegate needs no table of calls: the
// header says, per argument, how much goes in, how much room comes back and
// how much of that room the result fills.
#pragma once

#include <cstddef>
#include <cstdint>

#include "gpt/channel.h"

namespace gpt::shim {

enum class Pointer : std::uint8_t {
  kNone = 0,     // a plain value
  kNull = 1,     // a pointer argument that is NULL
  kIn = 2,       // in_bytes go in, nothing comes back
  kOut = 3,      // out_bytes of room; the result (a byte count) says how many come back
  kOutFixed = 4, // out_bytes of room, all of them come back when the call succeeds
  kInOut = 5,    // in_bytes go in, out_bytes (== in_bytes) come back when it succeeds
};

// Calls that are not system calls of the origin but requests to its runtime.
inline constexpr std::uint32_t kExitRequest = 0x10000;  // args[0]: status
// args[0]: a descriptor the origin dups for a writable shared file mapping
// (shared_file_mappings.h). Taken from the end of the requests' range.
inline constexpr std::uint32_t kKeepFileRequest = 0x1ffff;
// No arguments: 1 if the origin ever kept such a descriptor, else 0 (an
// exit on another node looks for mappings to write back only then).
inline constexpr std::uint32_t kAnyFileKeptRequest = 0x1fffe;
// No arguments: a MAP_SHARED mapping was made on the caller's node; the
// origin's forks say that the child gets a private copy (fork_sharing.h).
inline constexpr std::uint32_t kSharedMappingRequest = 0x1fffd;

struct ForwardHeader {
  std::uint32_t nr;
  std::uint32_t node;  // the caller's node (for messages)
  std::uint64_t args[6];
  Pointer kinds[6];
  std::uint16_t pad;
  std::uint32_t in_bytes[6];
  std::uint32_t out_bytes[6];
};

struct ForwardReply {
  std::int64_t result;  // >= 0, or -errno
  std::uint32_t out_bytes[6];
};

// Room for a call's data in one channel slot (request and reply alike).
inline constexpr std::size_t kMaxForwardData = channel::kSlotPayload - sizeof(ForwardHeader) - 64;

}  // namespace gpt::shim
