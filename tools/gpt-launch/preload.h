// gpt-launch --preload: running a dynamically linked glibc program that was
// not built with gpt-cc. Every node starts it with libgpthread.so preloaded
// and address-space randomisation off, so the executable and its libraries
// sit at the same addresses everywhere; the executable's writable pages
// become windows of the global space (docs/user-guide.md, "Running a binary
// you did not build"; docs/architecture.md, "Preloaded programs").
//
// This file decides, before any node starts, whether that can work and which
// of the executable's writable pages are shared: the runtime only maps what
// it is told (GPT_PRELOAD_SHARE) at the executable's load base.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace gpt::launch {

// A page-aligned range of link-time addresses (relative to the load base of
// a position-independent executable).
struct PageRange {
  std::uint64_t start = 0;
  std::uint64_t end = 0;
};

struct PreloadPlan {
  std::vector<PageRange> shared;      // the windows, at most kMaxSharedRuns
  std::vector<std::string> warnings;  // pages kept per node the user should know of
};

// Windows the runtime accepts for the executable (region::kGlobalWindows
// less the one the layout check uses).
inline constexpr std::size_t kMaxSharedRuns = 3;

// The plan for `path`, or why it cannot be run with --preload (a one-line
// error: a static program, one not linked against glibc, one built with
// gpt-cc...).
struct PreloadAnalysis {
  std::optional<PreloadPlan> plan;
  std::string error;
};
[[nodiscard]] PreloadAnalysis analyse_for_preload(const std::string& path);

// GPT_PRELOAD_SHARE's value for a plan: "start-end,..." in hex, or "none".
[[nodiscard]] std::string share_spec(const PreloadPlan& plan);

// libgpthread.so for the agents to preload: next to this gpt-launch in the
// build tree or in the installed tree; nullopt if neither has it.
[[nodiscard]] std::optional<std::string> find_preload_library();

// Everything --preload needs before the nodes start: checks `program`,
// prints the plan's warnings, and sets the environment the agents and the
// runtime read (GPT_PRELOAD: the library; GPT_PRELOAD_SHARE: share_spec).
// Returns why the program cannot be run this way.
[[nodiscard]] std::optional<std::string> prepare_preload(const std::string& program);

}  // namespace gpt::launch
