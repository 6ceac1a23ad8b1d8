#include "job_runner.h"

#include <filesystem>
#include <stdexcept>

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace gpt::test {
namespace {

using Clock = std::chrono::steady_clock;

// The polling interval of the bounded probe loops below.
void pause_briefly() { poll(nullptr, 0, 10); }
void poll_briefly(std::chrono::milliseconds ms) { poll(nullptr, 0, static_cast<int>(ms.count())); }

void make_pipe(int fds[2]) {
  if (pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
}

}  // namespace

JobRunner::JobRunner(std::vector<std::string> argv, std::string stdin_text) {
  int out[2], err[2], in[2];
  make_pipe(out);
  make_pipe(err);
  make_pipe(in);
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  start_ = Clock::now();
  pid_ = fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    setpgid(0, 0);
    dup2(in[0], 0);
    dup2(out[1], 1);
    dup2(err[1], 2);
    execv(args[0], args.data());
    const char msg[] = "job_runner: exec failed\n";
    ssize_t ignored = write(2, msg, sizeof msg - 1);
    (void)ignored;
    _exit(127);
  }
  setpgid(pid_, pid_);  // also here, so the group exists before we signal it
  close(out[1]);
  close(err[1]);
  close(in[0]);
  // Small inputs fit the pipe buffer; the job reads them whenever it likes.
  if (!stdin_text.empty()) {
    ssize_t ignored = write(in[1], stdin_text.data(), stdin_text.size());
    (void)ignored;
  }
  close(in[1]);
  out_fd_ = out[0];
  err_fd_ = err[0];
}

JobRunner::~JobRunner() {
  if (pid_ > 0) {
    kill(-pid_, SIGKILL);
    if (!status_) {
      int st;
      waitpid(pid_, &st, 0);
    }
  }
  if (out_fd_ >= 0) close(out_fd_);
  if (err_fd_ >= 0) close(err_fd_);
}

void JobRunner::pump(std::chrono::milliseconds max_wait) {
  struct pollfd fds[2] = {{out_fd_, POLLIN, 0}, {err_fd_, POLLIN, 0}};
  int n = ::poll(fds, 2, static_cast<int>(max_wait.count()));
  if (n <= 0) return;
  char buf[4096];
  for (int i = 0; i < 2; ++i) {
    if (!(fds[i].revents & (POLLIN | POLLHUP))) continue;
    ssize_t r = read(fds[i].fd, buf, sizeof buf);
    if (r > 0) (i == 0 ? out_ : err_).append(buf, static_cast<size_t>(r));
    if (r == 0) {
      close(fds[i].fd);
      (i == 0 ? out_fd_ : err_fd_) = -1;
    }
  }
}

bool JobRunner::try_reap() {
  if (status_) return true;
  int st;
  if (waitpid(pid_, &st, WNOHANG) == pid_) {
    status_ = st;
    elapsed_ = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start_);
    return true;
  }
  return false;
}

bool JobRunner::wait_for_stderr(const std::string& needle, std::chrono::milliseconds limit) {
  auto deadline = Clock::now() + limit;
  while (Clock::now() < deadline) {
    if (err_.find(needle) != std::string::npos) return true;
    if (out_fd_ < 0 && err_fd_ < 0) return false;
    pump(std::chrono::milliseconds(20));
    if (try_reap() && out_fd_ < 0 && err_fd_ < 0) break;
  }
  return err_.find(needle) != std::string::npos;
}

std::optional<int> JobRunner::wait(std::chrono::milliseconds limit) {
  auto deadline = Clock::now() + limit;
  while (Clock::now() < deadline) {
    if (out_fd_ >= 0 || err_fd_ >= 0) pump(std::chrono::milliseconds(20));
    else pause_briefly();
    if (try_reap()) {
      // Drain what is still buffered (the launcher's children may still hold
      // the pipes for a moment; bounded).
      auto drain_end = Clock::now() + std::chrono::milliseconds(2000);
      while ((out_fd_ >= 0 || err_fd_ >= 0) && Clock::now() < drain_end)
        pump(std::chrono::milliseconds(20));
      return status_;
    }
  }
  kill(-pid_, SIGKILL);
  int st;
  waitpid(pid_, &st, 0);
  status_ = st;
  return std::nullopt;
}

std::optional<int> JobRunner::poll(std::chrono::milliseconds max_wait) {
  if (out_fd_ >= 0 || err_fd_ >= 0) pump(max_wait);
  else poll_briefly(max_wait);
  if (!try_reap()) return std::nullopt;
  return wait(std::chrono::milliseconds(2000));  // drains what is still buffered
}

std::string build_path(const char* env_name) {
  const char* v = std::getenv(env_name);
  if (!v) throw std::runtime_error(std::string("environment variable ") + env_name + " not set");
  return v;
}

std::vector<std::string> launched(int nodes, std::vector<std::string> command, int timeout_s) {
  if (nodes == 0) return command;
  std::vector<std::string> argv = {launcher(), "-n", std::to_string(nodes), "--timeout",
                                   std::to_string(timeout_s)};
  argv.insert(argv.end(), command.begin(), command.end());
  return argv;
}

std::string launcher() { return build_path("GPT_LAUNCH"); }

std::string program(const std::string& name) { return build_path("GPT_PROGRAMS_DIR") + "/" + name; }

std::vector<pid_t> processes_with(const std::string& token) {
  std::vector<pid_t> found;
  DIR* d = opendir("/proc");
  if (!d) return found;
  while (dirent* e = readdir(d)) {
    char* end;
    long pid = std::strtol(e->d_name, &end, 10);
    if (*end != '\0' || pid <= 0) continue;
    std::string base = std::string("/proc/") + e->d_name;
    std::ifstream stat(base + "/stat");
    std::string stat_line;
    std::getline(stat, stat_line);
    auto paren = stat_line.rfind(')');
    if (paren == std::string::npos || paren + 2 >= stat_line.size()) continue;
    if (stat_line[paren + 2] == 'Z') continue;  // a zombie runs nothing
    std::ifstream cmd(base + "/cmdline", std::ios::binary);
    std::stringstream ss;
    ss << cmd.rdbuf();
    if (ss.str().find(token) != std::string::npos) found.push_back(static_cast<pid_t>(pid));
  }
  closedir(d);
  return found;
}

std::vector<pid_t> wait_until_gone(const std::string& token, std::chrono::milliseconds limit) {
  auto deadline = Clock::now() + limit;
  std::vector<pid_t> left = processes_with(token);
  while (!left.empty() && Clock::now() < deadline) {
    pause_briefly();
    left = processes_with(token);
  }
  return left;
}

pid_t logged_pid(const std::string& err, int node, const std::string& what) {
  const std::string needle = "node " + std::to_string(node) + ": " + what + " pid ";
  const auto at = err.find(needle);
  if (at == std::string::npos) return -1;
  return static_cast<pid_t>(std::strtol(err.c_str() + at + needle.size(), nullptr, 10));
}

long resident_kib(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::strtol(line.c_str() + 6, nullptr, 10);
  return -1;
}

std::string unique_token() {
  static std::atomic<int> counter{0};
  return "gpt-test-token-" + std::to_string(getpid()) + "-" + std::to_string(counter++);
}

int exit_code(int wait_status) {
  if (WIFEXITED(wait_status)) return WEXITSTATUS(wait_status);
  if (WIFSIGNALED(wait_status)) return 128 + WTERMSIG(wait_status);
  return -1;
}

std::pair<int, std::string> launch_with_env(const char* name, const char* value) {
  setenv(name, value, 1);
  JobRunner job({launcher(), "-n", "2", program("exit_code")});
  unsetenv(name);
  auto status = job.wait(std::chrono::seconds(10));
  return {status ? exit_code(*status) : -1, job.err()};
}

ScratchDir::ScratchDir() {
  std::string t = (std::filesystem::temp_directory_path() / "gpt-test-XXXXXX").string();
  if (!mkdtemp(t.data())) throw std::runtime_error("mkdtemp failed");
  path_ = t;
}

ScratchDir::~ScratchDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

}  // namespace gpt::test
