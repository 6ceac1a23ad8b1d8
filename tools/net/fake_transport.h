// An in-process network for unit tests: every endpoint is a queue in one
// FakeNetwork. Tests can also inject raw frames with any claimed sender to
// exercise the rejection paths of MessageGate.
#pragma once

#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>

#include "transport.h"

namespace gpt::net {

class FakeNetwork {
 public:
  // Creates the endpoint `id` on this network. The network must outlive it.
  [[nodiscard]] std::unique_ptr<Transport> endpoint(wire::NodeId id);

  // Delivers raw bytes to `to` as if sent by `claimed_peer` (nullopt: a
  // sender the transport cannot identify).
  void inject(wire::NodeId to, std::optional<wire::NodeId> claimed_peer,
              std::vector<std::byte> bytes);

 private:
  friend class FakeTransport;
  struct Queue {
    std::deque<Frame> frames;
  };
  bool deliver(wire::NodeId to, Frame frame);
  std::optional<Frame> take(wire::NodeId self, std::chrono::milliseconds timeout);

  std::mutex mu_;
  std::condition_variable cv_;
  std::map<wire::NodeId, Queue> queues_;
};

}  // namespace gpt::net
