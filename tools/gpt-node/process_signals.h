// Process-directed signals across nodes (docs/threads.md, "Process-directed
// signals"). A node's program finds a signal pending for its process that
// none of its threads takes (all block it) and offers it here: this agent
// asks every other node whether a thread of its process would take it (a
// ProcessSignalProbe; the answer reads the threads' masks) and answers the
// program with the first node that said yes. The program then dequeues the
// signal and has it sent there (ProcessSignal), where the agent raises it
// in its program's process: the kernel there gives it to the thread that
// takes it (or keeps it pending, and that node offers it on).
//
// Single-threaded: called from the agent's poll loop only.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <span>

#include "node_context.h"
#include "service.h"
#include "wire.h"

namespace gpt::node {

class ProcessSignals final
    : public ServiceBase<ProcessSignals, wire::ProcessSignalProbe, wire::ProcessSignalTaker, wire::ProcessSignal> {
 public:
  explicit ProcessSignals(const NodeContext& node);

  [[nodiscard]] std::span<const channel::Op> ops() const override { return kOps; }
  [[nodiscard]] std::optional<Reply> on_request(std::uint32_t slot, channel::Op op,
                                                std::span<const unsigned char> request,
                                                std::span<unsigned char> reply) override;
  void on(const wire::ProcessSignalProbe& m, wire::NodeId from);
  void on(const wire::ProcessSignalTaker& m, wire::NodeId from);
  void on(const wire::ProcessSignal& m, wire::NodeId from);
  [[nodiscard]] std::optional<Clock::time_point> next_deadline() const override;
  void expire(Clock::time_point now) override;
  void report(Stats& stats) const override;

 private:
  static constexpr channel::Op kOps[] = {channel::Op::kProcessSignalOffer, channel::Op::kProcessSignalSend};
  // A node that does not answer (it is ending) does not hold the offer up
  // for longer than this: the program offers again later.
  static constexpr auto kAnswerWait = std::chrono::seconds(1);

  struct Offer {
    std::uint32_t slot = 0;
    std::uint32_t answers_missing = 0;
    std::int32_t taker = -1;
    Clock::time_point deadline;
  };
  void finish(std::map<std::uint64_t, Offer>::iterator it);
  // Raises the signal in this node's program (process-directed).
  void raise_here(const wire::ProcessSignal& m);

  const NodeContext node_;
  std::uint64_t next_request_ = 1;
  std::map<std::uint64_t, Offer> offers_;
  std::uint64_t offered_ = 0, taken_elsewhere_ = 0, raised_here_ = 0;
};

}  // namespace gpt::node
