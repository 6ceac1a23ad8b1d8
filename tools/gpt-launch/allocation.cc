#include "allocation.h"

#include <cstdlib>

namespace gpt::launch {
namespace {

std::optional<long> number(const char* name) {
  const char* v = std::getenv(name);
  if (!v || !*v) return std::nullopt;
  char* end = nullptr;
  long n = std::strtol(v, &end, 10);
  if (*end || n < 0) return std::nullopt;
  return n;
}

// Splits at commas that are not inside brackets.
std::vector<std::string> top_level_items(const std::string& list) {
  std::vector<std::string> items;
  std::string cur;
  int depth = 0;
  for (char c : list) {
    if (c == '[') ++depth;
    if (c == ']') --depth;
    if (c == ',' && depth == 0) {
      items.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (!cur.empty()) items.push_back(cur);
  return items;
}

}  // namespace

std::optional<std::vector<std::string>> expand_hostlist(const std::string& list, std::string& error) {
  std::vector<std::string> hosts;
  for (const std::string& item : top_level_items(list)) {
    auto open = item.find('[');
    if (open == std::string::npos) {
      if (item.empty()) {
        error = "empty host in '" + list + "'";
        return std::nullopt;
      }
      hosts.push_back(item);
      continue;
    }
    auto close = item.find(']', open);
    if (close == std::string::npos) {
      error = "unbalanced brackets in '" + item + "'";
      return std::nullopt;
    }
    const std::string prefix = item.substr(0, open), suffix = item.substr(close + 1);
    for (const std::string& range : top_level_items(item.substr(open + 1, close - open - 1))) {
      auto dash = range.find('-');
      const std::string lo = range.substr(0, dash), hi = dash == std::string::npos ? lo : range.substr(dash + 1);
      char* end1 = nullptr;
      char* end2 = nullptr;
      long a = std::strtol(lo.c_str(), &end1, 10), b = std::strtol(hi.c_str(), &end2, 10);
      if (lo.empty() || hi.empty() || *end1 || *end2 || b < a || b - a > 100000) {
        error = "bad range '" + range + "' in '" + item + "'";
        return std::nullopt;
      }
      for (long n = a; n <= b; ++n) {
        std::string digits = std::to_string(n);
        if (digits.size() < lo.size()) digits.insert(0, lo.size() - digits.size(), '0');  // n[01-03]
        hosts.push_back(prefix + digits + suffix);
      }
    }
  }
  return hosts;
}

std::optional<Allocation> allocation_from_environment(std::string& error) {
  Allocation a;
  if (auto rank = number("SLURM_PROCID")) {
    auto size = number("SLURM_NTASKS");
    if (!size) {
      error = "SLURM_PROCID is set but SLURM_NTASKS is not";
      return std::nullopt;
    }
    a = Allocation{static_cast<std::uint32_t>(*rank), static_cast<std::uint32_t>(*size), "", 0, "Slurm"};
    const char* nodes = std::getenv("SLURM_STEP_NODELIST");
    if (!nodes) nodes = std::getenv("SLURM_JOB_NODELIST");
    if (nodes && *nodes) {
      auto hosts = expand_hostlist(nodes, error);
      if (!hosts || hosts->empty()) return std::nullopt;
      a.launcher_host = hosts->front();  // Slurm starts task 0 on the step's first node
    }
    const long job = number("SLURM_JOB_ID").value_or(0), step = number("SLURM_STEP_ID").value_or(0);
    // Below the kernel's ephemeral ports (32768 and up), one block per step.
    a.port_base = 20000 + static_cast<int>((job * 16 + step) % 12000);
  } else if (auto rank = number("OMPI_COMM_WORLD_RANK")) {
    auto size = number("OMPI_COMM_WORLD_SIZE");
    if (!size) {
      error = "OMPI_COMM_WORLD_RANK is set but OMPI_COMM_WORLD_SIZE is not";
      return std::nullopt;
    }
    a = Allocation{static_cast<std::uint32_t>(*rank), static_cast<std::uint32_t>(*size), "", 0, "Open MPI"};
    // Every rank on this machine: task 0 is here too.
    if (number("OMPI_COMM_WORLD_LOCAL_SIZE") == size) a.launcher_host = "127.0.0.1";
  } else if (auto rank = number("PMI_RANK")) {
    auto size = number("PMI_SIZE");
    if (!size) {
      error = "PMI_RANK is set but PMI_SIZE is not";
      return std::nullopt;
    }
    a = Allocation{static_cast<std::uint32_t>(*rank), static_cast<std::uint32_t>(*size), "", 0, "PMI"};
  } else if (auto rank = number("PMIX_RANK")) {
    // PMIx exports the rank only; its launchers export a size beside it.
    auto size = number("PMIX_SIZE");
    if (!size) size = number("PMI_SIZE");
    if (!size) {
      error = "PMIX_RANK is set but no size is (give --size)";
      return std::nullopt;
    }
    a = Allocation{static_cast<std::uint32_t>(*rank), static_cast<std::uint32_t>(*size), "", 0, "PMIx"};
  } else {
    return std::nullopt;
  }
  if (a.size == 0 || a.rank >= a.size) {
    error = a.source + ": rank " + std::to_string(a.rank) + " is not below the size " + std::to_string(a.size);
    return std::nullopt;
  }
  return a;
}

}  // namespace gpt::launch
