#include "task_masks.h"

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <system_error>

namespace gpt::node {
namespace {

// The task's blocked set, or nullopt for a task that is gone or ending (a
// zombie or dead thread takes nothing).
std::optional<std::uint64_t> blocked_set(const std::filesystem::path& status) {
  std::ifstream in(status);
  std::string line;
  std::optional<std::uint64_t> blocked;
  while (std::getline(in, line)) {
    if (line.rfind("State:", 0) == 0) {
      const auto at = line.find_first_not_of(" \t", 6);
      if (at == std::string::npos || line[at] == 'Z' || line[at] == 'X') return std::nullopt;
    } else if (line.rfind("SigBlk:", 0) == 0) {
      try {
        blocked = std::stoull(line.substr(7), nullptr, 16);
      } catch (...) {
        return std::nullopt;
      }
    }
  }
  return blocked;
}

}  // namespace

bool some_thread_takes(pid_t pid, int sig) {
  if (pid <= 0 || sig <= 0 || sig > 64) return false;
  const std::uint64_t bit = std::uint64_t{1} << (sig - 1);
  std::error_code ec;
  std::filesystem::directory_iterator tasks("/proc/" + std::to_string(pid) + "/task", ec);
  if (ec) return false;
  for (const auto& task : tasks) {
    const auto blocked = blocked_set(task.path() / "status");
    if (blocked && !(*blocked & bit)) return true;
  }
  return false;
}

}  // namespace gpt::node
