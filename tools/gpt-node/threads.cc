#include "threads.h"

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstring>

#include "channel_request.h"
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
  switch (op) {
    case channel::Op::kSpawn: {
      // `detached` came later: a request without it is a joinable thread.
      const auto req = read_request_prefix<channel::SpawnRequest>(request, offsetof(channel::SpawnRequest, detached));
      return req ? spawn(*req) : Reply{-EINVAL, 0};
    }
    case channel::Op::kMigrate: {
      const auto req = read_request<channel::MigrateRequest>(request);
      return req ? migrate(*req) : Reply{-EINVAL, 0};
    }
    case channel::Op::kDetach:
    case channel::Op::kThreadExit: {
      const auto req = read_request<channel::ThreadRequest>(request);
      if (!req) return Reply{-EINVAL, 0};
      return op == channel::Op::kDetach ? detach_request(req->tcb) : thread_exit(req->tcb);
    }
    case channel::Op::kThreadCensus:
      return census(slot);
    case channel::Op::kJoin: {
      // A bare ThreadRequest is a blocking join.
      const auto req = read_request_prefix<channel::JoinRequest>(request, sizeof(channel::ThreadRequest));
      return req ? join(slot, *req) : Reply{-EINVAL, 0};
    }
    default:
      return Reply{-ENOSYS, 0};
  }
}

Reply Threads::spawn(const channel::SpawnRequest& req) {
  if (req.node >= node_.node_count || home_of(req.tcb) != node_.self) return Reply{-EINVAL, 0};
  ++spawned_;
  ended_.erase(req.tcb);  // a new thread in a reused control block
  slots_[req.tcb] = req.slot;
  if (req.detached) detached_.insert(req.tcb);
  else detached_.erase(req.tcb);
  if (req.node == node_.self) run_here(req.tcb, false);
  else node_.send(req.node, wire::SpawnThread{req.tcb, coherence_.sync_epoch(), coherence_.notices_for(req.node)});
  return Reply{0, 0};
}

Reply Threads::migrate(const channel::MigrateRequest& req) {
  if (req.node >= node_.node_count || !home_of(req.tcb)) return Reply{-EINVAL, 0};
  ++migrated_out_;
  if (req.node == node_.self) run_here(req.tcb, true);
  else node_.send(req.node, wire::MigrateThread{req.tcb, coherence_.sync_epoch(), coherence_.notices_for(req.node)});
  return Reply{0, 0};
}

Reply Threads::detach_request(std::uint64_t tcb) {
  auto home = home_of(tcb);
  if (!home) return Reply{-EINVAL, 0};
  if (*home == node_.self) detach(tcb);
  else node_.send(*home, wire::DetachThread{tcb});
  return Reply{0, 0};
}

Reply Threads::thread_exit(std::uint64_t tcb) {
  auto home = home_of(tcb);
  if (!home) return Reply{-EINVAL, 0};
  ++ended_here_;
  if (*home == node_.self) exited(tcb, coherence_.sync_epoch());
  else node_.send(*home, wire::ThreadExited{tcb, coherence_.sync_epoch()});
  return Reply{0, 0};
}

std::optional<Reply> Threads::join(std::uint32_t slot, const channel::JoinRequest& req) {
  const std::uint64_t tcb = req.tcb;
  const bool try_only = req.try_only != 0;
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
  const std::uint64_t id = next_request_++;
  remote_joins_[id] = RemoteJoin{slot, tcb, *home};
  node_.send(*home, wire::JoinWait{id, tcb, static_cast<std::uint8_t>(try_only)});
  return std::nullopt;
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
  if (it == remote_joins_.end()) {
    if (auto w = withdrawn_joins_.find(m.request); w != withdrawn_joins_.end()) {
      if (m.status == 0) node_.send(w->second.home, wire::ThreadExited{w->second.tcb, m.epoch});
      withdrawn_joins_.erase(w);
    }
    return;
  }
  if (m.status == 0) coherence_.sync_arrived(m.epoch, m.notices);
  node_.channel.complete(it->second.slot, Reply{m.status == -EBUSY ? -EBUSY : 0, 0});
  remote_joins_.erase(it);
}

bool Threads::withdraw(std::uint32_t slot) {
  for (auto it = remote_joins_.begin(); it != remote_joins_.end(); ++it)
    if (it->second.slot == slot) {
      withdrawn_joins_.insert(*it);
      remote_joins_.erase(it);
      node_.channel.complete(slot, Reply{-ECANCELED, 0});
      return true;
    }
  for (auto it = waiters_.begin(); it != waiters_.end(); ++it) {
    auto& list = it->second;
    auto w = std::find_if(list.begin(), list.end(), [&](const Waiter& x) { return x.local && x.slot == slot; });
    if (w == list.end()) continue;
    list.erase(w);
    if (list.empty()) waiters_.erase(it);
    node_.channel.complete(slot, Reply{-ECANCELED, 0});
    return true;
  }
  return false;
}

void Threads::report(Stats& stats) const {
  stats.add("threads_started", started_);
  stats.add("migrations_in", migrated_in_);
  stats.add("migrations_out", migrated_out_);
}


std::optional<Reply> Threads::census(std::uint32_t slot) {
  if (census_) return Reply{-EBUSY, 0};  // one at a time: only the origin's first thread asks
  census_ = Census{++census_rounds_, slot, node_.node_count - 1, {spawned_, ended_here_}};
  for (wire::NodeId n = 0; n < node_.node_count; ++n)
    if (n != node_.self) node_.send(n, wire::CensusQuery{census_->round});
  if (census_->missing > 0) return std::nullopt;
  return take_census();
}

void Threads::on(const wire::CensusQuery& m, wire::NodeId from) {
  node_.send(from, wire::CensusReply{m.round, spawned_, ended_here_});
}

void Threads::on(const wire::CensusReply& m, wire::NodeId) {
  if (!census_ || m.round != census_->round || census_->missing == 0) return;  // a stale answer
  census_->sums.spawned += m.spawned;
  census_->sums.ended += m.ended;
  if (--census_->missing == 0) {
    const std::uint32_t slot = census_->slot;
    node_.channel.complete(slot, take_census());
  }
}

Reply Threads::take_census() {
  const auto sums = census_->sums;
  std::memcpy(node_.channel.payload(census_->slot).data(), &sums, sizeof sums);
  census_.reset();
  return Reply{0, sizeof sums};
}

}  // namespace gpt::node
