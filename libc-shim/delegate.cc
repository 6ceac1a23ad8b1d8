// The origin's half of the libc shim: delegate threads run the calls other
// nodes forward (forwarded_call.h), in this process, with its file
// descriptors, working directory and pid. One thread per delegate slot, so
// a call that blocks (a read of the terminal) holds up only its own slot.
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include <atomic>
#include <cstring>

#include "diag.h"
#include "fork_sharing.h"
#include "forwarded_call.h"
#include "gpt/channel_client.h"
#include "gpt/futex.h"
#include "gpt/raw_syscall.h"
#include "private_buffer.h"
#include "runtime.h"
#include "shared_file_mappings.h"
#include "shim.h"

namespace gpt::shim {
namespace {

using channel::DelegateSlot;
using channel::DelegateState;

// The node whose exit request is being carried out: it has flushed its own
// stdio already, and it is in the middle of exiting (its stdout is locked).
std::atomic<std::uint32_t> g_exiting_node{channel::kNoNode};

constexpr std::size_t align8(std::size_t n) { return (n + 7) & ~std::size_t{7}; }

// Runs the request in `slot` and writes the reply over it.
void run(DelegateSlot& slot, unsigned char* scratch, std::size_t scratch_bytes) {
  ForwardHeader h;
  ForwardReply reply{};
  if (slot.length < sizeof h) {
    reply.result = -EINVAL;
  } else {
    std::memcpy(&h, slot.data, sizeof h);
    long args[6];
    unsigned char* pointers[6] = {};
    std::size_t in_offset = sizeof h, used = 0;
    bool ok = true;
    for (int i = 0; i < 6 && ok; ++i) {
      args[i] = static_cast<long>(h.args[i]);
      const Pointer kind = h.kinds[i];
      if (kind == Pointer::kNone) continue;
      if (kind == Pointer::kNull) {
        args[i] = 0;
        continue;
      }
      const std::size_t in = h.in_bytes[i], out = h.out_bytes[i];
      const std::size_t room = in > out ? in : out;
      if (in_offset + in > slot.length || used + align8(room) > scratch_bytes) {
        ok = false;
        break;
      }
      pointers[i] = scratch + used;
      std::memcpy(pointers[i], slot.data + in_offset, in);
      if (room > in) std::memset(pointers[i] + in, 0, room - in);
      in_offset += in;
      used += align8(room);
      args[i] = reinterpret_cast<long>(pointers[i]);
    }
    if (!ok) {
      reply.result = -EINVAL;
    } else if (h.nr == kExitRequest) {
      g_exiting_node.store(h.node, std::memory_order_relaxed);
      exit(static_cast<int>(args[0]));  // atexit, stdio, every node flushed: as if called here
    } else if (h.nr == kKeepFileRequest) {
      reply.result = keep_file_here(static_cast<int>(args[0]));
    } else if (h.nr == kAnyFileKeptRequest) {
      reply.result = any_file_kept_here() ? 1 : 0;
    } else if (h.nr == kSharedMappingRequest) {
      note_shared_mapping_here();
      reply.result = 0;
    } else {
      reply.result = sys::call(h.nr, args[0], args[1], args[2], args[3], args[4], args[5]);
    }
    std::size_t offset = sizeof reply;
    for (int i = 0; i < 6 && ok; ++i) {
      std::size_t n = 0;
      if (h.kinds[i] == Pointer::kOut && reply.result > 0)
        n = static_cast<std::size_t>(reply.result) < h.out_bytes[i] ? static_cast<std::size_t>(reply.result)
                                                                      : h.out_bytes[i];
      else if ((h.kinds[i] == Pointer::kOutFixed || h.kinds[i] == Pointer::kInOut) && reply.result >= 0)
        n = h.out_bytes[i];
      reply.out_bytes[i] = static_cast<std::uint32_t>(n);
      std::memcpy(slot.data + offset, pointers[i], n);
      offset += n;
    }
    slot.length = static_cast<std::uint32_t>(offset);
  }
  if (slot.length < sizeof reply) slot.length = sizeof reply;
  std::memcpy(slot.data, &reply, sizeof reply);
}

void* delegate_main(void* arg) {
  auto& slot = rt::state().channel->delegates.slots[reinterpret_cast<std::uintptr_t>(arg)];
  // The call's buffers, outside the global space like every buffer the
  // shim hands the kernel (private_buffer.h).
  const std::size_t scratch_bytes = 2 * channel::kDelegateBytes;
  PrivateBuffer scratch;
  if (!scratch.reserve(scratch_bytes)) rt::die("cannot map a delegate's buffer", 127);
  constexpr auto kPosted = static_cast<std::uint32_t>(DelegateState::kPosted);
  for (;;) {
    std::uint32_t s = slot.state.load(std::memory_order_acquire);
    if (s != kPosted) {
      futex::wait(&slot.state, s);
      continue;
    }
    slot.state.store(static_cast<std::uint32_t>(DelegateState::kTaken), std::memory_order_relaxed);
    run(slot, scratch.data(), scratch_bytes);
    slot.state.store(static_cast<std::uint32_t>(DelegateState::kDone), std::memory_order_release);
    channel::ring_agent(*rt::state().channel);
  }
}

// At exit on the origin (registered first, so it runs after the program's
// own atexit handlers): every other node flushes its stdio through us.
void flush_every_node() {
  if (!rt::state().channel) return;  // a child of fork(): no longer in the job
  const channel::FlushNodesRequest request{g_exiting_node.load(std::memory_order_relaxed)};
  channel::Client client(rt::state().channel);
  (void)client.call(channel::Op::kFlushNodes, request);
}

}  // namespace

void start_delegates(StartKernelThread start_thread) {
  for (std::size_t i = 0; i < channel::kDelegateSlots; ++i) {
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    // More than 4x PTHREAD_STACK_MIN: after a fork the child's libc keeps
    // this stack in its cache and would give it to a thread that asked for
    // a small one, whose overflow would then miss its guard page.
    pthread_attr_setstacksize(&attr, 128 * 1024);
    pthread_t t;
    int err = start_thread(&t, &attr, delegate_main, reinterpret_cast<void*>(i));
    pthread_attr_destroy(&attr);
    if (err != 0) rt::die("cannot start the libc shim's delegate threads", 127);
  }
  atexit(flush_every_node);
  // Registered after it, so it runs before it (and after the program's own
  // handlers, which may still write to a mapping).
  atexit(write_back_at_origin_exit);
}

bool exit_came_from_another_node() {
  const std::uint32_t node = g_exiting_node.load(std::memory_order_relaxed);
  return node != channel::kNoNode && node != 0;
}

void flush_stdio_here() {
  // Through the shim like the program's own writes, so they reach the
  // origin's descriptors.
  enter_program();
  fflush(nullptr);
  leave_program();
  channel::Client client(rt::state().channel);
  (void)client.call(channel::Op::kStdioFlushed, nullptr, 0, nullptr, 0);
}

}  // namespace gpt::shim
