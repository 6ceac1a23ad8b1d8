// The job's keys in a file, for allocations (Slurm, MPI, containers) whose
// tasks start without gpt-launch handing them a pipe: task 0 makes the file
// (mode 0600) if it does not exist, the others wait for it. It must be on a
// file system every task sees (a home directory, a container secret) and
// readable by its owner only.
#pragma once

#include <optional>
#include <string>

#include "curve_keys.h"

namespace gpt::launch {

// Task 0: the keys in `path`, made there first if the file does not exist.
[[nodiscard]] std::optional<net::CurveKeys> load_or_create_key_file(const std::string& path, std::string& error);
// Any other task: a descriptor open on `path` once it holds keys (waits up
// to 30 s for task 0 to write it); -1 with `error` set otherwise.
[[nodiscard]] int open_key_file(const std::string& path, std::string& error);

}  // namespace gpt::launch
