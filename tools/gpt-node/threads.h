// The agent's part in running threads across nodes (docs/threads.md):
// hands new threads to the node that runs them, and tells joiners when a
// thread has ended. A thread is named by the global address of its control
// block (tcb); the tcb's home (the creating node) keeps its exit state.
//
// Single-threaded: called from the agent's poll loop only.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <vector>

#include "channel_server.h"
#include "coherence.h"
#include "gpt/region.h"
#include "message_gate.h"
#include "wire.h"

namespace gpt::node {

class Threads {
 public:
  Threads(wire::NodeId self, std::uint32_t node_count, const region::Geometry& geometry,
          net::MessageGate& gate, ChannelServer& channel, Coherence& coherence);

  [[nodiscard]] std::optional<Reply> on_request(std::uint32_t slot, channel::Op op,
                                                std::span<const unsigned char> request);
  bool on_message(const wire::Envelope& env);

  [[nodiscard]] std::uint64_t threads_started() const { return started_; }
  [[nodiscard]] std::uint64_t migrations_in() const { return migrated_in_; }
  [[nodiscard]] std::uint64_t migrations_out() const { return migrated_out_; }

 private:
  // A new thread, or one migrating here (`arriving`).
  void run_here(std::uint64_t tcb, bool arriving);
  // `epoch`: the notices the thread's node saw when it ended (a joiner
  // needs them, like a lock token's taker).
  void exited(std::uint64_t tcb, std::uint64_t epoch);
  void detach(std::uint64_t tcb);    // home: nobody joins it; free it at its end
  void free_tcb(std::uint64_t tcb);  // home: the program's service thread frees it
  [[nodiscard]] std::optional<wire::NodeId> home_of(std::uint64_t tcb) const;
  void send(wire::NodeId to, const wire::Message& m);

  wire::NodeId self_;
  std::uint32_t node_count_;
  region::Geometry geometry_;
  net::MessageGate& gate_;
  ChannelServer& channel_;
  Coherence& coherence_;

  std::uint64_t next_request_ = 1;
  std::uint64_t started_ = 0;
  std::uint64_t migrated_in_ = 0;
  std::uint64_t migrated_out_ = 0;
  // Home side: threads that ended and were not joined yet, and who waits.
  std::map<std::uint64_t, std::uint64_t> ended_;  // tcb -> its exit epoch
  std::set<std::uint64_t> detached_;  // running, and nobody will join them
  std::map<std::uint64_t, std::uint32_t> slots_;  // vehicle slot of each thread of ours
  struct Waiter {
    bool local;
    std::uint32_t slot;         // local: the joiner's channel slot
    wire::NodeId node;          // remote: the joiner's node
    std::uint64_t request;      // remote: its request id
  };
  std::map<std::uint64_t, std::vector<Waiter>> waiters_;
  // Joiner side: our JoinWait requests to other homes.
  std::map<std::uint64_t, std::uint32_t> remote_joins_;
};

}  // namespace gpt::node
