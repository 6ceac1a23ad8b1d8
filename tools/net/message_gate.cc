#include "message_gate.h"

#include <algorithm>

#include <cstring>
#include <string>

namespace gpt::net {
namespace {

std::string sender_name(wire::NodeId id) {
  return id == wire::kLauncherId ? std::string("the launcher") : "node " + std::to_string(id);
}

}  // namespace

MessageGate::MessageGate(Transport& transport, std::string label, LogSink log)
    : transport_(transport), label_(std::move(label)), log_(std::move(log)) {}

std::optional<wire::Envelope> MessageGate::next(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() < 0) left = std::chrono::milliseconds(0);
    auto frame = transport_.receive(left);
    if (!frame) return std::nullopt;
    if (auto env = admit(*frame)) return env;
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
  }
}

bool MessageGate::send(wire::NodeId to, const wire::Message& m) {
  if (holds_ > 0 && to != open_ && to != wire::kLauncherId) {
    held_.emplace_back(to, m);
    return true;
  }
  return transmit(to, m);
}

bool MessageGate::transmit(wire::NodeId to, const wire::Message& m) {
  if (!completes_epoch(to, m)) return transport_.send(to, wire::encode(transport_.self(), m));
  // Rare (made while a release was unacknowledged): only then a copy.
  wire::Message filled = m;
  std::visit(
      [&](auto& body) {
        if constexpr (requires { body.epoch; })
          body.epoch = std::max(wire::epoch_floor(body.epoch), epoch_source_());
      },
      filled);
  return transport_.send(to, wire::encode(transport_.self(), filled));
}

bool MessageGate::completes_epoch(wire::NodeId to, const wire::Message& m) const {
  if (holds_ > 0 || !epoch_source_ || to == 0 || to == wire::kLauncherId) return false;
  return std::visit(
      [](const auto& body) {
        if constexpr (requires { body.epoch; }) return wire::epoch_pending(body.epoch);
        else return false;
      },
      m);
}

void MessageGate::hold_all_but(wire::NodeId open) {
  if (holds_++ == 0) open_ = open;
}

void MessageGate::end_hold() {
  if (holds_ == 0 || --holds_ > 0) return;
  for (const auto& [to, m] : std::exchange(held_, {}))
    if (!transmit(to, m))
      log_((label_.empty() ? std::string() : label_ + ": ") + "cannot send a held message to node " +
           std::to_string(to));
}

std::optional<wire::Envelope> MessageGate::admit(const Frame& frame) {
  auto prefix = [&] { return label_.empty() ? std::string() : label_ + ": "; };
  if (!frame.peer) {
    ++counters_.unknown_peer;
    log_(prefix() + "dropped frame from unknown peer (" + std::to_string(frame.bytes.size()) +
         " bytes)");
    return std::nullopt;
  }
  auto decoded = wire::decode(frame.bytes);
  if (auto* err = std::get_if<wire::DecodeError>(&decoded)) {
    std::string what(wire::describe(*err));
    if (*err == wire::DecodeError::kBadVersion) {
      ++counters_.bad_version;
      std::uint16_t v = 0;
      std::memcpy(&v, frame.bytes.data() + 4, sizeof v);
      what = "bad version " + std::to_string(v) + " (expected " +
             std::to_string(wire::kVersion) + ")";
    } else {
      ++counters_.malformed;
    }
    log_(prefix() + "dropped frame from " + sender_name(*frame.peer) + ": " + what);
    return std::nullopt;
  }
  auto& env = std::get<wire::Envelope>(decoded);
  if (env.from != *frame.peer) {
    ++counters_.spoofed;
    log_(prefix() + "dropped frame from " + sender_name(*frame.peer) + ": header claims " +
         sender_name(env.from));
    return std::nullopt;
  }
  ++counters_.accepted;
  return std::move(env);
}

}  // namespace gpt::net
