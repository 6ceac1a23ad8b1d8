#include "process.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <vector>

extern char** environ;

namespace gpt::util {
namespace {

std::vector<std::string> merged_environment(const SpawnOptions& options) {
  std::map<std::string, std::string> vars;
  for (char** e = environ; e && *e; ++e) {
    std::string entry(*e);
    auto eq = entry.find('=');
    if (eq == std::string::npos) continue;
    vars[entry.substr(0, eq)] = entry.substr(eq + 1);
  }
  for (const auto& entry : options.env) {
    auto eq = entry.find('=');
    if (eq == std::string::npos) continue;
    vars[entry.substr(0, eq)] = entry.substr(eq + 1);
  }
  std::vector<std::string> out;
  out.reserve(vars.size());
  for (auto& [k, v] : vars) out.push_back(k + "=" + v);
  return out;
}

// Only async-signal-safe calls from here until exec: the parent may have
// other threads (ZeroMQ's I/O threads) that held locks when we forked.
[[noreturn]] void exec_child(const SpawnOptions& options, pid_t parent, const char* path, char* const argv[],
                             char* const envp[], int error_pipe) {
  sigset_t empty;
  sigemptyset(&empty);
  sigprocmask(SIG_SETMASK, &empty, nullptr);
  if (options.parent_death_signal != 0) {
    prctl(PR_SET_PDEATHSIG, options.parent_death_signal);
    // The parent may have died before prctl took effect.
    if (getppid() != parent) _exit(127);
  }
  if (options.no_aslr) personality(ADDR_NO_RANDOMIZE);
  if (options.stdin_fd >= 0) {
    dup2(options.stdin_fd, 0);
  } else if (options.stdin_null) {
    int fd = open("/dev/null", O_RDONLY);
    if (fd >= 0) {
      dup2(fd, 0);
      if (fd != 0) close(fd);
    }
  }
  for (int fd : options.keep_fds) {
    int flags = fcntl(fd, F_GETFD);
    if (flags >= 0) fcntl(fd, F_SETFD, flags & ~FD_CLOEXEC);
  }
  execve(path, argv, envp);
  int err = errno;
  ssize_t ignored = write(error_pipe, &err, sizeof err);
  (void)ignored;
  _exit(127);
}

}  // namespace

SpawnResult spawn(const std::vector<std::string>& argv, const SpawnOptions& options) {
  SpawnResult result;
  if (argv.empty()) {
    result.error = "empty command";
    return result;
  }
  // execve does not search PATH, and the child may not allocate: look the
  // name up here (GPT_RSH's default is a bare "ssh").
  std::string path = argv[0];
  if (path.find('/') == std::string::npos) {
    std::string error;
    auto found = resolve_program(path, error);
    if (!found) {
      result.error = "cannot execute " + argv[0] + ": not found in PATH";
      return result;
    }
    path = *found;
  }
  std::vector<std::string> env = merged_environment(options);
  std::vector<char*> argv_c, envp_c;
  for (const auto& a : argv) argv_c.push_back(const_cast<char*>(a.c_str()));
  argv_c.push_back(nullptr);
  for (const auto& e : env) envp_c.push_back(const_cast<char*>(e.c_str()));
  envp_c.push_back(nullptr);

  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) {
    result.error = std::string("pipe: ") + strerror(errno);
    return result;
  }
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) {
    result.error = std::string("fork: ") + strerror(errno);
    close(pipe_fds[0]);
    close(pipe_fds[1]);
    return result;
  }
  if (pid == 0) {
    close(pipe_fds[0]);
    exec_child(options, parent, path.c_str(), argv_c.data(), envp_c.data(), pipe_fds[1]);
  }
  close(pipe_fds[1]);
  int child_errno = 0;
  ssize_t n;
  do {
    n = read(pipe_fds[0], &child_errno, sizeof child_errno);
  } while (n < 0 && errno == EINTR);
  close(pipe_fds[0]);
  if (n == static_cast<ssize_t>(sizeof child_errno)) {
    int status;
    waitpid(pid, &status, 0);
    result.error = "cannot execute " + argv[0] + ": " + strerror(child_errno);
    return result;
  }
  result.pid = pid;
  return result;
}

std::string describe_wait_status(int wait_status) {
  if (WIFEXITED(wait_status)) return "exited with status " + std::to_string(WEXITSTATUS(wait_status));
  if (WIFSIGNALED(wait_status)) {
    int sig = WTERMSIG(wait_status);
    const char* abbrev = sigabbrev_np(sig);
    std::string text = "killed by signal " + std::to_string(sig);
    if (abbrev) text += std::string(" (SIG") + abbrev + ")";
    if (WCOREDUMP(wait_status)) text += ", core dumped";
    return text;
  }
  return "ended with wait status " + std::to_string(wait_status);
}

int exit_code_of(int wait_status) {
  if (WIFEXITED(wait_status)) return WEXITSTATUS(wait_status);
  if (WIFSIGNALED(wait_status)) return 128 + WTERMSIG(wait_status);
  return 1;
}

std::optional<std::string> resolve_program(const std::string& name, std::string& error) {
  namespace fs = std::filesystem;
  auto check = [&](const fs::path& p) -> std::optional<std::string> {
    struct stat st;
    if (stat(p.c_str(), &st) != 0) return std::nullopt;
    if (S_ISDIR(st.st_mode)) {
      error = "'" + p.string() + "' is a directory, not a program";
      return std::nullopt;
    }
    if (access(p.c_str(), X_OK) != 0) {
      error = "'" + p.string() + "' is not executable";
      return std::nullopt;
    }
    std::error_code ec;
    fs::path abs = fs::absolute(p, ec);
    return (ec ? p : abs.lexically_normal()).string();
  };
  if (name.empty()) {
    error = "no program given";
    return std::nullopt;
  }
  if (name.find('/') != std::string::npos) {
    auto found = check(name);
    if (!found && error.empty()) error = "program '" + name + "' not found";
    return found;
  }
  const char* path = getenv("PATH");
  std::string dirs = path ? path : "/usr/local/bin:/usr/bin:/bin";
  size_t start = 0;
  while (start <= dirs.size()) {
    size_t end = dirs.find(':', start);
    if (end == std::string::npos) end = dirs.size();
    std::string dir = dirs.substr(start, end - start);
    if (dir.empty()) dir = ".";
    std::string saved = error;
    auto found = check(fs::path(dir) / name);
    if (found) return found;
    if (error.empty()) error = saved;
    start = end + 1;
  }
  if (error.empty()) error = "program '" + name + "' not found in PATH";
  return std::nullopt;
}

namespace {

// The parent pid in /proc/PID/stat ("PID (COMMAND) STATE PPID ..."), or -1.
pid_t parent_of(const std::string& stat_path) {
  int fd = open(stat_path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  char buf[512];
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return -1;
  buf[n] = '\0';
  const char* paren = std::strrchr(buf, ')');
  char state;
  int parent;
  if (!paren || std::sscanf(paren + 1, " %c %d", &state, &parent) != 2) return -1;
  return parent;
}

std::vector<pid_t> children_of(pid_t parent) {
  std::vector<pid_t> children;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    if (parent_of(entry.path().string() + "/stat") == parent) children.push_back(std::stoi(name));
  }
  return children;
}

}  // namespace

int kill_remaining_children() {
  int killed = 0;
  // Each round's dying children may leave children of their own to us.
  for (int round = 0; round < 100; ++round) {
    const std::vector<pid_t> children = children_of(getpid());
    if (children.empty()) break;
    for (pid_t child : children) {
      if (kill(child, SIGKILL) == 0) ++killed;
      (void)waitpid(child, nullptr, 0);
    }
  }
  return killed;
}

std::optional<char> process_state(pid_t pid) {
  char name[64];
  std::snprintf(name, sizeof name, "/proc/%d/stat", static_cast<int>(pid));
  int fd = open(name, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  char buf[512];
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return std::nullopt;
  buf[n] = '\0';
  // "PID (COMMAND) STATE ...": the command may hold spaces and parentheses,
  // so the state follows the last ')'.
  const char* paren = std::strrchr(buf, ')');
  if (!paren || paren[1] != ' ' || paren[2] == '\0') return std::nullopt;
  return paren[2];
}

std::string self_directory() {
  char buf[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return ".";
  buf[n] = '\0';
  return std::filesystem::path(buf).parent_path().string();
}

}  // namespace gpt::util
