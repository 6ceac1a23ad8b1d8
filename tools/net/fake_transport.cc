#include "fake_transport.h"

namespace gpt::net {

class FakeTransport final : public Transport {
 public:
  FakeTransport(FakeNetwork& net, wire::NodeId self) : net_(net), self_(self) {}
  [[nodiscard]] wire::NodeId self() const override { return self_; }
  [[nodiscard]] bool send(wire::NodeId to, std::span<const std::byte> frame) override {
    return net_.deliver(to, Frame{self_, std::vector<std::byte>(frame.begin(), frame.end())});
  }
  [[nodiscard]] std::optional<Frame> receive(std::chrono::milliseconds timeout) override {
    return net_.take(self_, timeout);
  }

 private:
  FakeNetwork& net_;
  wire::NodeId self_;
};

std::unique_ptr<Transport> FakeNetwork::endpoint(wire::NodeId id) {
  {
    std::lock_guard lock(mu_);
    queues_[id];
  }
  return std::make_unique<FakeTransport>(*this, id);
}

void FakeNetwork::inject(wire::NodeId to, std::optional<wire::NodeId> claimed_peer,
                         std::vector<std::byte> bytes) {
  (void)deliver(to, Frame{claimed_peer, std::move(bytes)});
}

bool FakeNetwork::deliver(wire::NodeId to, Frame frame) {
  {
    std::lock_guard lock(mu_);
    auto it = queues_.find(to);
    if (it == queues_.end()) return false;
    it->second.frames.push_back(std::move(frame));
  }
  cv_.notify_all();
  return true;
}

std::optional<Frame> FakeNetwork::take(wire::NodeId self, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  auto& q = queues_[self].frames;
  if (!cv_.wait_for(lock, timeout, [&] { return !q.empty(); })) return std::nullopt;
  Frame f = std::move(q.front());
  q.pop_front();
  return f;
}

}  // namespace gpt::net
