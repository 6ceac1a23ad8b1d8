// Starting and reaping child processes for the launcher and the agent.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

namespace gpt::util {

struct SpawnOptions {
  // Extra environment entries "NAME=value" (added to / overriding environ).
  std::vector<std::string> env;
  // Redirect stdin from /dev/null.
  bool stdin_null = false;
  // Or from this descriptor (>= 0), e.g. a pipe the parent writes.
  int stdin_fd = -1;
  // Keep these fds open across exec (clears FD_CLOEXEC in the child).
  std::vector<int> keep_fds;
  // Run with address-space randomisation off (personality ADDR_NO_RANDOMIZE).
  bool no_aslr = false;
  // Signal the child gets when this process dies (PR_SET_PDEATHSIG); 0: none.
  int parent_death_signal = 0;
};

struct SpawnResult {
  pid_t pid = -1;
  std::string error;  // non-empty when the program could not be started
};

// fork + exec of argv[0]: a path, or a name looked up in PATH as execvp
// would (the remote shell is "ssh"). If exec fails, the child's errno comes
// back through a close-on-exec pipe, so the error is reported here, not as a
// mysterious exit status 127 later. The caller blocks no signals in the
// child: the child's signal mask is reset to empty before exec.
[[nodiscard]] SpawnResult spawn(const std::vector<std::string>& argv, const SpawnOptions& options);

// "exited with status 3", "killed by signal 9 (SIGKILL)".
[[nodiscard]] std::string describe_wait_status(int wait_status);

// The shell convention: the exit code, or 128 + signal number.
[[nodiscard]] int exit_code_of(int wait_status);

// Resolves a program name as execvp would (PATH search when it has no '/').
// Returns the absolute path, or an error message in `error`.
[[nodiscard]] std::optional<std::string> resolve_program(const std::string& name,
                                                         std::string& error);

// The directory holding this executable (/proc/self/exe).
[[nodiscard]] std::string self_directory();

// The scheduler state of process `pid` as /proc/PID/stat reports it: 'R'
// running, 'S' sleeping, 'D' in the kernel, 'T' stopped by a signal, 't'
// stopped by a debugger, 'Z' a zombie...; nullopt if there is no such process.
[[nodiscard]] std::optional<char> process_state(pid_t pid);

// Kills (SIGKILL) and reaps every child this process still has, until none
// is left: with PR_SET_CHILD_SUBREAPER those include the descendants of a
// program that ended (its fork children, reparented here). Returns how many.
int kill_remaining_children();

}  // namespace gpt::util
