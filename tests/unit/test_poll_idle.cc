#include <dirent.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <climits>
#include <cstdint>
#include <string>

#include "poll_idle.h"

using gpt::util::CpuWakeLatency;
using gpt::util::kCpuLatencyDevice;
using gpt::util::poll_idle_from_env;

namespace {

// Whether this process has the PM QoS device open: the request lives
// exactly as long as such a descriptor.
bool holds_device() {
  DIR* dir = opendir("/proc/self/fd");
  if (!dir) return false;
  bool found = false;
  while (dirent* e = readdir(dir)) {
    char target[PATH_MAX] = {};
    const std::string link = std::string("/proc/self/fd/") + e->d_name;
    if (readlink(link.c_str(), target, sizeof target - 1) > 0 && std::string(target) == kCpuLatencyDevice)
      found = true;
  }
  closedir(dir);
  return found;
}

std::int32_t current_request() {
  int fd = open(kCpuLatencyDevice, O_RDONLY | O_CLOEXEC);
  std::int32_t value = -1;
  if (fd >= 0) {
    if (read(fd, &value, sizeof value) != sizeof value) value = -1;
    close(fd);
  }
  return value;
}

}  // namespace

TEST(PollIdle, OffUnlessOne) {
  std::string error;
  unsetenv("GPT_POLL_IDLE");
  EXPECT_EQ(poll_idle_from_env(error), false);
  for (const char* off : {"", "0"}) {
    setenv("GPT_POLL_IDLE", off, 1);
    EXPECT_EQ(poll_idle_from_env(error), false) << off;
  }
  setenv("GPT_POLL_IDLE", "1", 1);
  EXPECT_EQ(poll_idle_from_env(error), true);
  for (const char* bad : {"yes", "2", " 1", "1 "}) {
    setenv("GPT_POLL_IDLE", bad, 1);
    EXPECT_EQ(poll_idle_from_env(error), std::nullopt) << bad;
    EXPECT_NE(error.find("GPT_POLL_IDLE='"), std::string::npos) << error;
  }
  unsetenv("GPT_POLL_IDLE");
}

TEST(PollIdle, WithoutPermissionSaysWhy) {
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // As nobody: the device is root's alone.
    if (geteuid() == 0 && (setresgid(65534, 65534, 65534) != 0 || setresuid(65534, 65534, 65534) != 0)) _exit(3);
    std::string error;
    auto held = CpuWakeLatency::hold(0, error);
    const bool said_why = error.find(kCpuLatencyDevice) != std::string::npos &&
                          (error.find("Permission denied") != std::string::npos ||
                           error.find("No such file") != std::string::npos);
    _exit(!held && said_why ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

TEST(PollIdle, RequestLivesAsLongAsTheObject) {
  std::string error;
  auto held = CpuWakeLatency::hold(0, error);
  if (geteuid() != 0) {
    EXPECT_FALSE(held);  // the previous test says why
    return;
  }
  ASSERT_TRUE(held) << error;
  EXPECT_TRUE(holds_device());
  EXPECT_EQ(current_request(), 0);
  std::optional<CpuWakeLatency> moved = std::move(held);
  held.reset();
  EXPECT_TRUE(holds_device());  // the moved-from object gave nothing up
  moved.reset();
  EXPECT_FALSE(holds_device());
}
