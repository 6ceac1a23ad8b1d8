// Runs a command (usually gpt-launch) for a multi-node test: captures its
// stdout and stderr, offers readiness probes on its output, enforces a hard
// time limit and kills its whole process group when the runner goes away,
// so no test can hang or leave processes behind.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace gpt::test {

class JobRunner {
 public:
  // Starts argv in its own process group. `stdin_text` is fed to its stdin.
  explicit JobRunner(std::vector<std::string> argv, std::string stdin_text = "");
  ~JobRunner();
  JobRunner(const JobRunner&) = delete;
  JobRunner& operator=(const JobRunner&) = delete;

  // Waits until stderr contains `needle` (or the job ends, or `limit` passes).
  [[nodiscard]] bool wait_for_stderr(const std::string& needle, std::chrono::milliseconds limit);
  // Waits for the job to end; kills its process group after `limit`.
  // Returns the raw wait status, or nullopt if it had to be killed.
  [[nodiscard]] std::optional<int> wait(std::chrono::milliseconds limit);
  // Reads output for up to `max_wait`; the raw wait status if the job has
  // ended, else nullopt (the job goes on: for loops that watch it).
  [[nodiscard]] std::optional<int> poll(std::chrono::milliseconds max_wait);

  [[nodiscard]] pid_t pid() const { return pid_; }
  [[nodiscard]] const std::string& out() const { return out_; }
  [[nodiscard]] const std::string& err() const { return err_; }
  // How long the job ran (until wait() saw it end).
  [[nodiscard]] std::chrono::milliseconds elapsed() const { return elapsed_; }

 private:
  void pump(std::chrono::milliseconds max_wait);
  bool try_reap();

  pid_t pid_ = -1;
  int out_fd_ = -1;
  int err_fd_ = -1;
  std::string out_;
  std::string err_;
  std::optional<int> status_;
  std::chrono::steady_clock::time_point start_;
  std::chrono::milliseconds elapsed_{0};
};

// A fresh directory under the system's temporary directory, removed with
// everything in it when the object goes away (also when a test fails).
class ScratchDir {
 public:
  ScratchDir();
  ~ScratchDir();
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  [[nodiscard]] const std::string& path() const { return path_; }
  [[nodiscard]] std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// Paths of built artefacts, from the environment meson sets for the tests.
[[nodiscard]] std::string build_path(const char* env_name);
// The command line that runs `command` on `nodes` local nodes through
// gpt-launch with a --timeout of `timeout_s`; nodes 0 runs it directly,
// without the launcher.
[[nodiscard]] std::vector<std::string> launched(int nodes, std::vector<std::string> command,
                                                int timeout_s);
// build/tools/gpt-launch, and a test program by name (build/tests/programs).
[[nodiscard]] std::string launcher();
[[nodiscard]] std::string program(const std::string& name);

// Pids of live (non-zombie) processes whose command line contains `token`.
[[nodiscard]] std::vector<pid_t> processes_with(const std::string& token);

// Waits up to `limit` for processes_with(token) to become empty.
[[nodiscard]] std::vector<pid_t> wait_until_gone(const std::string& token,
                                                 std::chrono::milliseconds limit);

// The pid a verbose launcher logged for node K's "agent" or "program"
// ("node K: agent pid N ..."), or -1.
[[nodiscard]] pid_t logged_pid(const std::string& err, int node, const std::string& what);

// A process's resident memory in KiB (VmRSS), or -1 if it is gone.
[[nodiscard]] long resident_kib(pid_t pid);

// A token unique to this test run, to mark a job's processes.
[[nodiscard]] std::string unique_token();

// The wait status as a shell would report it (exit code or 128+signal).
[[nodiscard]] int exit_code(int wait_status);

// Runs a 2-node job of exit_code with the environment variable `name` set
// to `value` for it alone; returns its exit code (-1 if it did not end
// within 10 s) and its stderr.
[[nodiscard]] std::pair<int, std::string> launch_with_env(const char* name, const char* value);

}  // namespace gpt::test
