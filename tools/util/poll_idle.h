// GPT_POLL_IDLE=1 (gpt-launch --poll-idle): while a node's agent runs, it
// asks the kernel (PM QoS, /dev/cpu_dma_latency) to keep that machine's
// CPUs out of idle states that take long to leave. Why: most of a round
// trip between nodes is spent waking sleeping CPUs, and a virtual CPU that
// halts is slow to wake (here: raw ZeroMQ round trip 105 µs halting, 35 µs
// polling). The price is CPUs that never sleep while the job runs, the
// trade `tuned`'s latency-performance profile makes for a whole machine.
#pragma once

#include <optional>
#include <string>

namespace gpt::util {

// GPT_POLL_IDLE: unset, "" or "0" = off, "1" = on; nullopt (with `error`
// set) for anything else.
[[nodiscard]] std::optional<bool> poll_idle_from_env(std::string& error);

// Holds a request that CPUs wake within `max_us` for as long as it lives;
// the kernel drops it when the descriptor closes (also if we are killed).
class CpuWakeLatency {
 public:
  // Empty, with `error` set, if the request cannot be made (not root, no
  // PM QoS in this kernel).
  [[nodiscard]] static std::optional<CpuWakeLatency> hold(int max_us, std::string& error);
  CpuWakeLatency(CpuWakeLatency&& other) noexcept;
  CpuWakeLatency& operator=(CpuWakeLatency&& other) noexcept;
  CpuWakeLatency(const CpuWakeLatency&) = delete;
  ~CpuWakeLatency();

 private:
  explicit CpuWakeLatency(int fd) : fd_(fd) {}
  int fd_;
};

// The file through which the request is made (and its current value read).
inline constexpr const char* kCpuLatencyDevice = "/dev/cpu_dma_latency";

}  // namespace gpt::util
