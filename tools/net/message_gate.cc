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
    : transport_(transport),
      label_(std::move(label)),
      log_(std::move(log)),
      drops_([this](std::string_view line) { if (log_) log_(line); },
             "dropped frames" + (label_.empty() ? std::string() : " at " + label_)) {}

std::optional<wire::Envelope> MessageGate::next(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() < 0) left = std::chrono::milliseconds(0);
    auto frame = transport_.receive(left);
    drops_.tick();
    if (!frame) return std::nullopt;
    if (auto env = admit(*frame)) return env;
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
  }
}

void MessageGate::drop(std::string_view why) {
  drops_.log((label_.empty() ? std::string() : label_ + ": ") + std::string(why));
}

bool MessageGate::send(wire::NodeId to, const wire::Message& m) {
  if (holds_ > 0 && to != open_ && to != wire::kLauncherId) {
    held_.emplace_back(to, m);
    return true;
  }
  return transmit(to, m);
}

bool MessageGate::send_encoded(wire::NodeId to, std::vector<std::byte> bytes) {
  if (bytes.size() <= wire::kMaxFrameBytes) return transport_.send(to, bytes);
  // One part after the other to one receiver: they arrive in order, and
  // nothing else of ours to `to` comes between them.
  for (std::size_t at = 0; at < bytes.size(); at += wire::kMaxPartBytes) {
    const std::size_t n = std::min(wire::kMaxPartBytes, bytes.size() - at);
    wire::FramePart part{static_cast<std::uint8_t>(at + n == bytes.size()),
                         std::vector<std::byte>(bytes.begin() + static_cast<std::ptrdiff_t>(at),
                                                bytes.begin() + static_cast<std::ptrdiff_t>(at + n))};
    if (!transport_.send(to, wire::encode(transport_.self(), part))) return false;
  }
  return true;
}

bool MessageGate::transmit(wire::NodeId to, const wire::Message& m) {
  if (!completes_epoch(to, m)) return send_encoded(to, wire::encode(transport_.self(), m));
  // Rare (made while a release was unacknowledged): only then a copy.
  wire::Message filled = m;
  std::visit(
      [&](auto& body) {
        if constexpr (requires { body.epoch; })
          body.epoch = std::max(wire::epoch_floor(body.epoch), epoch_source_());
      },
      filled);
  return send_encoded(to, wire::encode(transport_.self(), filled));
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
  if (!frame.peer) {
    ++counters_.unknown_peer;
    drop("dropped frame from unknown peer (" + std::to_string(frame.bytes.size()) + " bytes)");
    return std::nullopt;
  }
  auto env = check(*frame.peer, frame.bytes);
  if (!env) return std::nullopt;
  if (auto* part = std::get_if<wire::FramePart>(&env->body)) return assemble(env->from, *part);
  ++counters_.accepted;
  return env;
}

std::optional<wire::Envelope> MessageGate::check(wire::NodeId peer, std::span<const std::byte> bytes) {
  auto decoded = wire::decode(bytes);
  if (auto* err = std::get_if<wire::DecodeError>(&decoded)) {
    std::string what(wire::describe(*err));
    if (*err == wire::DecodeError::kBadVersion) {
      ++counters_.bad_version;
      std::uint16_t v = 0;
      std::memcpy(&v, bytes.data() + 4, sizeof v);
      what = "bad version " + std::to_string(v) + " (expected " + std::to_string(wire::kVersion) + ")";
    } else {
      ++counters_.malformed;
    }
    drop("dropped frame from " + sender_name(peer) + ": " + what);
    return std::nullopt;
  }
  auto& env = std::get<wire::Envelope>(decoded);
  if (env.from != peer) {
    ++counters_.spoofed;
    drop("dropped frame from " + sender_name(peer) + ": header claims " + sender_name(env.from));
    return std::nullopt;
  }
  return std::move(env);
}

std::optional<wire::Envelope> MessageGate::assemble(wire::NodeId from, wire::FramePart& part) {
  auto& so_far = partial_[from];
  if (so_far.size() + part.bytes.size() > wire::kMaxAssembledBytes) {
    ++counters_.malformed;
    drop("dropped a message in parts from " + sender_name(from) + ": longer than " +
         std::to_string(wire::kMaxAssembledBytes >> 20) + " MiB");
    partial_.erase(from);
    return std::nullopt;
  }
  so_far.insert(so_far.end(), part.bytes.begin(), part.bytes.end());
  if (!part.last) return std::nullopt;
  const std::vector<std::byte> whole = std::move(so_far);
  partial_.erase(from);
  // The whole passes the checks of any frame, and is not in parts itself.
  auto env = check(from, whole);
  if (!env) return std::nullopt;
  if (std::holds_alternative<wire::FramePart>(env->body)) {
    ++counters_.malformed;
    drop("dropped a message in parts from " + sender_name(from) + ": it holds another part");
    return std::nullopt;
  }
  ++counters_.assembled;
  ++counters_.accepted;
  return env;
}

}  // namespace gpt::net
