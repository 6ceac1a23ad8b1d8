#include "process_signals.h"

#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <iterator>
#include <string>

#include "channel_request.h"
#include "log.h"
#include "task_masks.h"

namespace gpt::node {
namespace {

bool valid_signal(std::int64_t sig) { return sig > 0 && sig <= static_cast<std::int64_t>(channel::kMaxSignal); }

pid_t program(const NodeContext& node) { return node.program_pid ? *node.program_pid : -1; }

}  // namespace

ProcessSignals::ProcessSignals(const NodeContext& node) : node_(node) {}

std::optional<Reply> ProcessSignals::on_request(std::uint32_t slot, channel::Op op,
                                                std::span<const unsigned char> request, std::span<unsigned char>) {
  switch (op) {
    case channel::Op::kProcessSignalOffer: {
      const auto req = read_request<channel::ProcessSignalOffer>(request);
      if (!req || !valid_signal(req->sig)) return Reply{-EINVAL, 0};
      if (node_.node_count <= 1) return Reply{-EAGAIN, 0};
      ++offered_;
      const std::uint64_t id = next_request_++;
      offers_[id] = Offer{slot, node_.node_count - 1, -1, Clock::now() + kAnswerWait};
      const wire::ProcessSignalProbe probe{id, static_cast<std::int32_t>(req->sig)};
      for (wire::NodeId n = 0; n < node_.node_count; ++n)
        if (n != node_.self && !node_.gate.send(n, probe)) {
          // That node is gone: it will not answer.
          auto it = offers_.find(id);
          if (--it->second.answers_missing == 0) {
            const std::int32_t taker = it->second.taker;
            offers_.erase(it);
            return Reply{taker >= 0 ? taker : -EAGAIN, 0};
          }
        }
      return std::nullopt;
    }
    case channel::Op::kProcessSignalSend: {
      const auto req = read_request<channel::ProcessSignalSend>(request);
      if (!req || !valid_signal(req->sig) || req->node >= node_.node_count) return Reply{-EINVAL, 0};
      const wire::ProcessSignal m{static_cast<std::int32_t>(req->sig), req->code, req->pid, req->uid, req->value};
      if (req->node == node_.self) raise_here(m);
      else if (!node_.gate.send(req->node, m)) return Reply{-EIO, 0};
      else ++taken_elsewhere_;
      return Reply{0, 0};
    }
    default:
      return Reply{-ENOSYS, 0};
  }
}

// Answered from the threads' masks as the kernel keeps them: no call into
// the program, which may be busy or stopped in a debugger.
void ProcessSignals::on(const wire::ProcessSignalProbe& m, wire::NodeId from) {
  const bool takes = valid_signal(m.sig) && some_thread_takes(program(node_), m.sig);
  node_.send(from, wire::ProcessSignalTaker{m.request, m.sig, takes ? 1u : 0u});
}

void ProcessSignals::on(const wire::ProcessSignalTaker& m, wire::NodeId from) {
  auto it = offers_.find(m.request);
  if (it == offers_.end()) return;  // expired already
  // The first node that said yes; the lowest-numbered would need every answer.
  if (m.can_take && it->second.taker < 0) it->second.taker = static_cast<std::int32_t>(from);
  if (it->second.answers_missing > 0) --it->second.answers_missing;
  // No need to wait for the others once one takes it.
  if (it->second.answers_missing == 0 || it->second.taker >= 0) finish(it);
}

void ProcessSignals::on(const wire::ProcessSignal& m, wire::NodeId) {
  if (valid_signal(m.sig)) raise_here(m);
}

void ProcessSignals::finish(std::map<std::uint64_t, Offer>::iterator it) {
  const Offer offer = it->second;
  offers_.erase(it);
  node_.channel.complete(offer.slot, Reply{offer.taker >= 0 ? offer.taker : -EAGAIN, 0});
}

std::optional<Clock::time_point> ProcessSignals::next_deadline() const {
  std::optional<Clock::time_point> first;
  for (const auto& [id, offer] : offers_)
    if (!first || offer.deadline < *first) first = offer.deadline;
  return first;
}

void ProcessSignals::expire(Clock::time_point now) {
  for (auto it = offers_.begin(); it != offers_.end();) {
    auto next = std::next(it);
    if (it->second.deadline <= now) finish(it);
    it = next;
  }
}

// With the sender's siginfo where the kernel lets another process give one:
// codes below zero (SI_QUEUE of sigqueue, SI_TIMER, SI_MESGQ...) but
// SI_TKILL. Others (SI_USER of kill, the kernel's own) go as a kill from
// this agent, so the program sees this agent's pid as the sender.
void ProcessSignals::raise_here(const wire::ProcessSignal& m) {
  const pid_t pid = program(node_);
  if (pid <= 0) return;
  long r;
  if (m.code < 0 && m.code != SI_TKILL) {
    siginfo_t info;
    std::memset(&info, 0, sizeof info);
    info.si_signo = m.sig;
    info.si_code = m.code;
    info.si_pid = m.pid;
    info.si_uid = m.uid;
    info.si_value.sival_ptr = reinterpret_cast<void*>(static_cast<std::uintptr_t>(m.value));
    r = syscall(SYS_rt_sigqueueinfo, pid, m.sig, &info);
  } else {
    r = kill(pid, m.sig);
  }
  if (r != 0) {
    util::log_line("cannot raise signal " + std::to_string(m.sig) + " in the program: " + std::strerror(errno));
    return;
  }
  ++raised_here_;
  // The program's watcher offers on only what came this way: a signal sent
  // to this node's process from outside is not the job's.
  if (!push_downcall(node_.channel.layout(), channel::Downcall::kProcessSignalRaised, static_cast<std::uint64_t>(m.sig)))
    util::log_line("downcall queue full: signal " + std::to_string(m.sig) + " stays here if nobody takes it");
}

void ProcessSignals::report(Stats& stats) const {
  stats.add("process_signals_offered", offered_);
  stats.add("process_signals_sent", taken_elsewhere_);
  stats.add("process_signals_raised", raised_here_);
}

}  // namespace gpt::node
