// The node-to-node transport: frames in, frames out, addressed by node id.
//
// Implementations: ZmqAgentTransport / ZmqLauncherTransport (zmq_transport.h)
// and FakeNetwork (fake_transport.h), an in-process network for unit tests.
// A transport moves bytes and reports who sent them as far as the transport
// itself can tell (a sealed frame's sender, or a ZeroMQ routing id); it does not
// parse frames. MessageGate (message_gate.h) turns frames into messages.
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <span>
#include <vector>

#include "wire.h"

namespace gpt::net {

struct Frame {
  // The sender's id as the transport identified it; nullopt when the
  // transport could not map the sender to a known node (unknown peer).
  std::optional<wire::NodeId> peer;
  std::vector<std::byte> bytes;
};

class Transport {
 public:
  virtual ~Transport() = default;
  Transport() = default;
  Transport(const Transport&) = delete;
  Transport& operator=(const Transport&) = delete;

  // This endpoint's own id (a node id, or wire::kLauncherId).
  [[nodiscard]] virtual wire::NodeId self() const = 0;
  // Queues one frame for `to`. False if `to` is not reachable through this
  // transport (unknown id) or the frame could not be queued.
  [[nodiscard]] virtual bool send(wire::NodeId to, std::span<const std::byte> frame) = 0;
  // Waits up to `timeout` for one frame. nullopt on timeout.
  [[nodiscard]] virtual std::optional<Frame> receive(std::chrono::milliseconds timeout) = 0;

  // An agent's connection to the launcher, as far as receive() has seen:
  // whether it was ever up, and since when it is down (nullopt while up).
  // Transports without one (the fake network, a benchmark's) say it is up.
  struct LauncherLink {
    bool ever_up = true;
    std::optional<std::chrono::steady_clock::time_point> down_since;
  };
  [[nodiscard]] virtual LauncherLink launcher_link() const { return {}; }
};

// A wake-up word a receiver polls while it spins (the agent's channel
// doorbell): whoever rings it skips the system call that makes the wake-up
// fd readable while the receiver polls. Both sides use sequentially
// consistent operations: the ringer bumps the word, then reads whether the
// receiver polls; the receiver stops polling, then looks at the word once
// more before it sleeps; one of them sees the other.
class SpinDoorbell {
 public:
  virtual ~SpinDoorbell() = default;
  // Rung since its owner last took its work.
  [[nodiscard]] virtual bool rang() const = 0;
  // Whether the receiver polls it (ringers may skip the fd) or may sleep.
  virtual void set_polling(bool polling) = 0;
};

// A data plane that another transport's receive() waits on together with
// its own sockets (the agent's ZeroMQ control socket and doorbell): it is
// progressed by the caller's thread, never by a thread of its own.
class DataPlane : public Transport {
 public:
  // Progresses without blocking; one frame that arrived, if any.
  [[nodiscard]] virtual std::optional<Frame> poll() = 0;
  // Readable when poll() may have work, once arm() returned true.
  [[nodiscard]] virtual int event_fd() const = 0;
  // Prepares to block on event_fd(); false: work is pending, poll() first.
  [[nodiscard]] virtual bool arm() = 0;
  // One-sided operations finished while poll() progressed the plane and
  // wait to be collected (remote_memory.h): the caller's wait ends so that
  // it can take them.
  [[nodiscard]] virtual bool remote_done() const { return false; }
};

}  // namespace gpt::net
