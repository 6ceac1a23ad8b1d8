#include "poll_idle.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <utility>

namespace gpt::util {

std::optional<bool> poll_idle_from_env(std::string& error) {
  const char* text = std::getenv("GPT_POLL_IDLE");
  if (!text || !*text || std::strcmp(text, "0") == 0) return false;
  if (std::strcmp(text, "1") == 0) return true;
  error = std::string("GPT_POLL_IDLE='") + text + "' is neither 0 nor 1";
  return std::nullopt;
}

std::optional<CpuWakeLatency> CpuWakeLatency::hold(int max_us, std::string& error) {
  const int fd = open(kCpuLatencyDevice, O_WRONLY | O_CLOEXEC);
  if (fd < 0) {
    error = std::string("cannot open ") + kCpuLatencyDevice + ": " + std::strerror(errno);
    return std::nullopt;
  }
  const std::int32_t value = max_us;
  if (write(fd, &value, sizeof value) != static_cast<ssize_t>(sizeof value)) {
    error = std::string("cannot write ") + kCpuLatencyDevice + ": " + std::strerror(errno);
    close(fd);
    return std::nullopt;
  }
  return CpuWakeLatency(fd);
}

CpuWakeLatency::CpuWakeLatency(CpuWakeLatency&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}

CpuWakeLatency& CpuWakeLatency::operator=(CpuWakeLatency&& other) noexcept {
  std::swap(fd_, other.fd_);
  return *this;
}

CpuWakeLatency::~CpuWakeLatency() {
  if (fd_ >= 0) close(fd_);
}

}  // namespace gpt::util
