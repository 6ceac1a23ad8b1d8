#include "threads.h"

#include <cerrno>
#include <cstring>

#include "gpt/futex.h"
#include "log.h"

namespace gpt::node {

Threads::Threads(const NodeContext& node, Coherence& coherence) : node_(node), coherence_(coherence) {}

std::optional<wire::NodeId> Threads::home_of(std::uint64_t tcb) const {
  const region::Geometry& geometry = node_.heap.geometry();
  if (!geometry.in_heap(tcb)) return std::nullopt;
  wire::NodeId home = geometry.home_of_page(geometry.page_of(tcb));
  if (home >= node_.node_count) return std::nullopt;
  return home;
}

void Threads::run_here(std::uint64_t tcb, bool arriving) {
  if (!push_downcall(node_.channel.layout(), channel::Downcall::kRunThread, tcb)) {
    util::log_line("more than 4096 threads waiting to start on this node; refusing one");
    return;
  }
  ++(arriving ? migrated_in_ : started_);
}

void Threads::detach(std::uint64_t tcb) {
  if (ended_.erase(tcb)) free_tcb(tcb);  // it had ended already
  else detached_.insert(tcb);
}

void Threads::free_tcb(std::uint64_t tcb) {
  if (!push_downcall(node_.channel.layout(), channel::Downcall::kFreeTcb, tcb))
    util::log_line("downcall queue full: a detached thread's control block is not freed");
}

void Threads::exited(std::uint64_t tcb, std::uint64_t epoch) {
  if (auto slot = slots_.find(tcb); slot != slots_.end()) {
    // Every vehicle of the thread is gone or going: the slot may serve
    // another thread (a node still reaping one waits for it first).
    if (!push_downcall(node_.channel.layout(), channel::Downcall::kFreeSlot, slot->second))
      util::log_line("downcall queue full: a thread slot is lost");
    slots_.erase(slot);
  }
  if (detached_.erase(tcb)) {
    free_tcb(tcb);  // nobody will join it
    return;
  }
  auto it = waiters_.find(tcb);
  if (it == waiters_.end()) {
    ended_[tcb] = epoch;
    return;
  }
  // One joiner (POSIX allows one); the others, if any, are woken too.
  for (const Waiter& w : it->second) {
    if (w.local) {
      coherence_.sync_arrived(epoch, {});
      node_.channel.complete(w.slot, Reply{0, 0});
    } else {
      node_.send(w.node, wire::JoinDone{w.request, 0, epoch, coherence_.notices_for(w.node)});
    }
  }
  waiters_.erase(it);
}

std::optional<Reply> Threads::on_request(std::uint32_t slot, channel::Op op,
                                         std::span<const unsigned char> request, std::span<unsigned char>) {
  std::uint64_t words[3] = {0, 0, 0};
  if (request.size() > sizeof words) return Reply{-EINVAL, 0};
  std::memcpy(words, request.data(), request.size());
  switch (op) {
    case channel::Op::kSpawn: {
      auto node = static_cast<std::uint32_t>(words[0]);
      auto slot = static_cast<std::uint32_t>(words[0] >> 32);
      std::uint64_t tcb = words[1];
      if (node >= node_.node_count || home_of(tcb) != node_.self) return Reply{-EINVAL, 0};
      ended_.erase(tcb);  // a new thread in a reused control block
      slots_[tcb] = slot;
      if (words[2]) detached_.insert(tcb);
      else detached_.erase(tcb);
      if (node == node_.self) run_here(tcb, false);
      else node_.send(node, wire::SpawnThread{tcb, coherence_.sync_epoch(), coherence_.notices_for(node)});
      return Reply{0, 0};
    }
    case channel::Op::kMigrate: {
      auto node = static_cast<std::uint32_t>(words[0]);
      std::uint64_t tcb = words[1];
      if (node >= node_.node_count || !home_of(tcb)) return Reply{-EINVAL, 0};
      ++migrated_out_;
      if (node == node_.self) run_here(tcb, true);
      else node_.send(node, wire::MigrateThread{tcb, coherence_.sync_epoch(), coherence_.notices_for(node)});
      return Reply{0, 0};
    }
    case channel::Op::kDetach: {
      std::uint64_t tcb = words[0];
      auto home = home_of(tcb);
      if (!home) return Reply{-EINVAL, 0};
      if (*home == node_.self) detach(tcb);
      else node_.send(*home, wire::DetachThread{tcb});
      return Reply{0, 0};
    }
    case channel::Op::kThreadExit: {
      std::uint64_t tcb = words[0];
      auto home = home_of(tcb);
      if (!home) return Reply{-EINVAL, 0};
      if (*home == node_.self) exited(tcb, coherence_.sync_epoch());
      else node_.send(*home, wire::ThreadExited{tcb, coherence_.sync_epoch()});
      return Reply{0, 0};
    }
    case channel::Op::kJoin: {
      std::uint64_t tcb = words[0];
      const bool try_only = words[1] != 0;
      auto home = home_of(tcb);
      if (!home) return Reply{-EINVAL, 0};
      if (*home == node_.self) {
        if (auto e = ended_.find(tcb); e != ended_.end()) {
          coherence_.sync_arrived(e->second, {});
          ended_.erase(e);
          return Reply{0, 0};
        }
        if (try_only) return Reply{-EBUSY, 0};
        waiters_[tcb].push_back(Waiter{true, slot, 0, 0});
        return std::nullopt;
      }
      std::uint64_t id = next_request_++;
      remote_joins_[id] = slot;
      node_.send(*home, wire::JoinWait{id, tcb, static_cast<std::uint8_t>(try_only)});
      return std::nullopt;
    }
    default:
      return Reply{-ENOSYS, 0};
  }
}

void Threads::on(const wire::SpawnThread& m, wire::NodeId from) {
  if (home_of(m.tcb) != from) {
    util::log_line("node " + std::to_string(from) + " asked to run a thread it does not own");
    return;
  }
  coherence_.sync_arrived(m.epoch, m.notices);
  run_here(m.tcb, false);
}

void Threads::on(const wire::MigrateThread& m, wire::NodeId from) {
  if (!home_of(m.tcb)) {
    util::log_line("node " + std::to_string(from) + " migrated a thread outside the heap here");
    return;
  }
  coherence_.sync_arrived(m.epoch, m.notices);
  run_here(m.tcb, true);
}

void Threads::on(const wire::DetachThread& m, wire::NodeId) {
  if (home_of(m.tcb) == node_.self) detach(m.tcb);
}

void Threads::on(const wire::ThreadExited& m, wire::NodeId) {
  if (home_of(m.tcb) == node_.self) exited(m.tcb, coherence_.settled_epoch(m.epoch));
}

void Threads::on(const wire::JoinWait& m, wire::NodeId from) {
  if (home_of(m.tcb) != node_.self) return;
  if (auto e = ended_.find(m.tcb); e != ended_.end()) {
    node_.send(from, wire::JoinDone{m.request, 0, e->second, coherence_.notices_for(from)});
    ended_.erase(e);
  } else if (m.try_only) {
    node_.send(from, wire::JoinDone{m.request, -EBUSY, 0, {}});
  } else {
    waiters_[m.tcb].push_back(Waiter{false, 0, from, m.request});
  }
}

void Threads::on(const wire::JoinDone& m, wire::NodeId) {
  auto it = remote_joins_.find(m.request);
  if (it == remote_joins_.end()) return;
  if (m.status == 0) coherence_.sync_arrived(m.epoch, m.notices);
  node_.channel.complete(it->second, Reply{m.status == -EBUSY ? -EBUSY : 0, 0});
  remote_joins_.erase(it);
}

void Threads::report(Stats& stats) const {
  stats.add("threads_started", started_);
  stats.add("migrations_in", migrated_in_);
  stats.add("migrations_out", migrated_out_);
}

}  // namespace gpt::node
