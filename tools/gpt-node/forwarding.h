// The agents' part of the libc shim (docs/libc-shim.md): calls a remote
// node's program forwards go to the origin's agent, which hands them to the
// origin program's delegate threads (gpt/channel.h, DelegateArea) and sends
// the results back; as the job ends, the origin asks every node to flush
// its stdio. The blobs are opaque here.
//
// Single-threaded: called from the agent's poll loop only.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <span>
#include <vector>

#include "node_context.h"
#include "service.h"
#include "wire.h"

namespace gpt::node {

class Forwarding final : public ServiceBase<Forwarding, wire::SyscallRequest, wire::SyscallReply,
                                              wire::FlushStdio, wire::StdioFlushed> {
 public:
  static constexpr wire::NodeId kOrigin = 0;

  explicit Forwarding(const NodeContext& node);

  [[nodiscard]] std::span<const channel::Op> ops() const override { return kOps; }
  [[nodiscard]] std::optional<Reply> on_request(std::uint32_t slot, channel::Op op,
                                                std::span<const unsigned char> request,
                                                std::span<unsigned char> reply) override;
  // Origin: a call to run, a node's stdio flushed.
  void on(const wire::SyscallRequest& m, wire::NodeId from);
  void on(const wire::StdioFlushed& m, wire::NodeId from);
  // Other nodes: a call's result, the origin's request to flush.
  void on(const wire::SyscallReply& m, wire::NodeId from);
  void on(const wire::FlushStdio& m, wire::NodeId from);
  // Origin: replies of finished delegates go out, queued calls go in.
  void poll() override;
  // Ends a flush whose nodes did not all answer in time. No next_deadline:
  // the 2 s limit is coarse, the loop's tick is precise enough for it.
  void expire(Clock::time_point now) override;
  void report(Stats& stats) const override;

 private:
  static constexpr channel::Op kOps[] = {channel::Op::kForward, channel::Op::kFlushNodes,
                                         channel::Op::kStdioFlushed};
  struct Call {
    wire::NodeId from;
    std::uint64_t request;
    std::vector<std::byte> blob;
  };
  void post(std::size_t slot, Call call);
  void finish_flush();

  const NodeContext node_;
  std::uint64_t next_request_ = 1;
  std::uint64_t forwarded_ = 0, served_ = 0;
  // Remote side: our calls waiting for the origin, by request id.
  std::map<std::uint64_t, std::uint32_t> pending_;
  // Origin side: who each delegate slot is working for, and the calls
  // waiting for a free slot.
  struct InFlight {
    bool busy = false;
    wire::NodeId from = 0;
    std::uint64_t request = 0;
  };
  std::vector<InFlight> delegates_;
  std::deque<Call> queued_;
  // Origin side: the flush in progress (one at a time: the process exits).
  std::optional<std::uint32_t> flush_slot_;
  std::uint64_t flush_request_ = 0;
  std::uint32_t flush_waiting_ = 0;
  Clock::time_point flush_deadline_;
  // Remote side: the flush we were asked for.
  std::uint64_t asked_flush_ = 0;
};

}  // namespace gpt::node
