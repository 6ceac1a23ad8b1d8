// One family of the agent's work (locks, page fetches, keys, ...) behind
// one interface: the channel ops it serves for its program, the peers'
// messages it handles, its timed waits and the counters it adds to the
// GPT_STATS line. The agent core (service_table.h) routes every op and every
// message type to the one service that registered it, so a new family is a
// new Service and one line in node_services.cc, not edits across the core.
//
// Single-threaded: every call comes from the agent's poll loop (or a test's
// pump), never two at once.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>

#include "channel_server.h"
#include "gpt/channel.h"
#include "wire.h"

namespace gpt::node {

using Clock = std::chrono::steady_clock;

// The counters of a GPT_STATS line, "name=value" in the order added.
class Stats {
 public:
  void add(std::string_view name, std::uint64_t value);
  [[nodiscard]] const std::string& line() const { return line_; }

 private:
  std::string line_;
};

class Service {
 public:
  Service() = default;
  virtual ~Service() = default;
  Service(const Service&) = delete;
  Service& operator=(const Service&) = delete;

  // The channel ops this service serves, and the message types it handles:
  // the table sends it these and nothing else.
  [[nodiscard]] virtual std::span<const channel::Op> ops() const { return {}; }
  [[nodiscard]] virtual std::span<const wire::Type> messages() const { return {}; }

  // A request of the program (one of ops()). `request` and `reply` alias the
  // slot's payload (ChannelServer::Handler). nullopt: it completes later,
  // through ChannelServer::complete.
  [[nodiscard]] virtual std::optional<Reply> on_request(std::uint32_t slot, channel::Op op,
                                                        std::span<const unsigned char> request,
                                                        std::span<unsigned char> reply);
  // A peer's message (one of messages()).
  virtual void on_message(const wire::Envelope& env);

  // The earliest deadline of a timed wait served here: the loop wakes for
  // it instead of at its next tick, and then calls expire().
  [[nodiscard]] virtual std::optional<Clock::time_point> next_deadline() const { return std::nullopt; }
  // Ends what is due by `now` (called at deadlines and every tick).
  virtual void expire(Clock::time_point) {}
  // The thread waiting in `slot` was cancelled (kWithdraw): if that wait is
  // one of this service's, end it with -ECANCELED and forget it, so no lock,
  // condition, semaphore or join keeps a waiter nobody will collect.
  // False if the slot waits for nothing here.
  [[nodiscard]] virtual bool withdraw(std::uint32_t /*slot*/) { return false; }
  // Called on every turn of the loop: work the program leaves in shared
  // memory without a request (delegate results, a full inbox to refill).
  virtual void poll() {}
  virtual void report(Stats&) const {}
};

// A Service whose messages are exactly `Handled...`: the table sends it
// those types, and each goes to Derived::on(const M&, wire::NodeId from).
// A listed type without its handler does not compile, and a handler cannot
// be left unrouted by forgetting to list it: there is one list.
template <class Derived, class... Handled>
class ServiceBase : public Service {
 public:
  [[nodiscard]] std::span<const wire::Type> messages() const final { return types_; }

  void on_message(const wire::Envelope& env) final {
    std::visit(
        [&](const auto& m) {
          using M = std::decay_t<decltype(m)>;
          if constexpr ((std::is_same_v<M, Handled> || ...)) static_cast<Derived&>(*this).on(m, env.from);
        },
        env.body);
  }

 private:
  std::array<wire::Type, sizeof...(Handled)> types_{wire::type_of(wire::Message(Handled{}))...};
};

}  // namespace gpt::node
