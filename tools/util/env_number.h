// Whole numbers the job reads from the environment (GPT_SPIN_US,
// GPT_PREFETCH, GPT_WRITE_AHEAD): the launcher checks them before anything
// starts, so a typo is an error naming the variable, not a silent default
// in every node's program.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace gpt::util {

struct EnvNumber {
  const char* name;         // the variable
  std::uint64_t fallback;   // when it is unset or empty
  std::uint64_t least, most;
  const char* unit;         // "microseconds", "pages"
};

// The variable's value, or its fallback when unset or empty; nullopt (with
// `error` set) if it is not a whole number from `least` to `most`.
[[nodiscard]] std::optional<std::uint64_t> number_from_env(const EnvNumber& spec, std::string& error);

// GPT_PREFETCH: pages a read fault fetches at once (libgalloc page_ops.cc).
inline constexpr EnvNumber kPrefetchPages{"GPT_PREFETCH", 8, 1, 16, "pages"};
// GPT_WRITE_AHEAD: pages a sequential write fault makes writable after its
// own (libgalloc fault_handler.cc).
inline constexpr EnvNumber kWriteAheadPages{"GPT_WRITE_AHEAD", 32, 0, 256, "pages"};

}  // namespace gpt::util
