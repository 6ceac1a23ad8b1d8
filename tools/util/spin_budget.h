// GPT_SPIN_US: how long a program thread waiting for its agent's reply
// keeps yielding its core before it sleeps (gpt/channel_client.h).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace gpt::util {

// A wait that must cross the network takes about one round trip (~100 µs
// on loopback, more between hosts); covering it twice keeps the waiter's
// core from going idle without spinning for ever on long waits.
inline constexpr std::uint32_t kDefaultSpinUs = 250;
inline constexpr std::uint32_t kMaxSpinUs = 100'000;

// The budget from GPT_SPIN_US, or the default; nullopt (with `error` set)
// if the variable is not a whole number of microseconds up to kMaxSpinUs.
[[nodiscard]] std::optional<std::uint32_t> spin_us_from_env(std::string& error);

}  // namespace gpt::util
