// The agent core's routing: each channel op and each message type to the
// one service that registered it (service.h), and the loop's calls that
// concern every service (deadlines, expiry, polling, counters).
//
// Single-threaded: called from the agent's poll loop only.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "service.h"

namespace gpt::node {

class ServiceTable {
 public:
  // Routes the service's ops and message types to it; throws
  // std::logic_error when another service has one of them already (two
  // families must never both think they own an op).
  void add(Service& service);

  // A program's request: the built-in ops (kEcho), then the op's service;
  // -ENOSYS for an op nobody serves.
  [[nodiscard]] std::optional<Reply> serve(std::uint32_t slot, channel::Op op,
                                           std::span<const unsigned char> request,
                                           std::span<unsigned char> reply);
  // A peer's message; false when no service handles its type.
  [[nodiscard]] bool deliver(const wire::Envelope& env);

  // Asks every service to withdraw the wait in `slot` (Service::withdraw);
  // false if none had it.
  [[nodiscard]] bool withdraw(std::uint32_t slot);
  [[nodiscard]] std::optional<Clock::time_point> next_deadline() const;
  void expire(Clock::time_point now);
  void poll();
  // Every service's counters, in the order they were added.
  void report(Stats& stats) const;

 private:
  std::vector<Service*> services_;
  // Indexed by the op's and the type's value: a lookup per request and per
  // message, on the path of every page fault.
  std::vector<Service*> by_op_;
  std::vector<Service*> by_type_;
};

}  // namespace gpt::node
