// Reading the program's requests and writing the replies as the structs of
// gpt/channel_ops.h, never by offset. The request bytes are the program's:
// anything of the wrong size is refused (the service answers -EINVAL), and
// structs are copied out, so a reply written into the same payload cannot
// change what was read.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <type_traits>

#include "channel_server.h"
#include "gpt/channel_ops.h"

namespace gpt::node {

using Pages = channel::Words<const std::uint64_t>;

// The request is exactly a T.
template <class T>
[[nodiscard]] std::optional<T> read_request(std::span<const unsigned char> request) {
  static_assert(std::is_trivially_copyable_v<T>);
  if (request.size() != sizeof(T)) return std::nullopt;
  T t;
  std::memcpy(&t, request.data(), sizeof t);
  return t;
}

// The request is a T whose trailing fields after the first `required`
// bytes may be left out (they read as their defaults).
template <class T>
[[nodiscard]] std::optional<T> read_request_prefix(std::span<const unsigned char> request, std::size_t required) {
  static_assert(std::is_trivially_copyable_v<T>);
  if (request.size() < required || request.size() > sizeof(T)) return std::nullopt;
  T t{};
  std::memcpy(&t, request.data(), request.size());
  return t;
}

// A Head, then u64 words (a release's pages, a remote free's pointers).
// The words stay in the payload: read them before writing the reply.
template <class Head>
[[nodiscard]] bool read_trailed(std::span<const unsigned char> request, Head& head, Pages& words) {
  return channel::split_trailed(request.data(), request.size(), head, words);
}
// Only u64 words.
[[nodiscard]] inline bool read_words(std::span<const unsigned char> request, Pages& words) {
  return channel::split_words(request.data(), request.size(), words);
}

// Writes `reply` at the start of the payload; the Reply that says so.
template <class T>
[[nodiscard]] Reply write_reply(std::span<unsigned char> payload, const T& reply, std::int32_t status = 0) {
  static_assert(std::is_trivially_copyable_v<T>);
  static_assert(sizeof(T) <= channel::kSlotPayload);
  std::memcpy(payload.data(), &reply, sizeof reply);
  return Reply{status, static_cast<std::uint32_t>(sizeof reply)};
}

}  // namespace gpt::node
