// Running inside an allocation another launcher made (docs/cluster.md):
// every task runs gpt-launch; task 0 becomes the launcher and node 0's
// agent, task K the agent of node K. Rank and size come from --rank/--size
// or from the environment Slurm (srun) and MPI launchers (mpirun) export; no
// MPI library is used.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace gpt::launch {

struct Allocation {
  std::uint32_t rank = 0;
  std::uint32_t size = 1;
  std::string launcher_host;  // where task 0 is; "" when the environment does not say
  int port_base = 0;          // 0 when the environment does not suggest one
  std::string source;         // "Slurm", "Open MPI", "PMI", for messages
};

// The allocation the environment describes, or nullopt (and `error` empty)
// when none; nullopt with `error` set when it is inconsistent.
[[nodiscard]] std::optional<Allocation> allocation_from_environment(std::string& error);

// Slurm's host list syntax: "n[1-3,5],login2" -> n1 n2 n3 n5 login2.
[[nodiscard]] std::optional<std::vector<std::string>> expand_hostlist(const std::string& list, std::string& error);

}  // namespace gpt::launch
