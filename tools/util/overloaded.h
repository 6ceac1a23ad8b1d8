// The usual visitor helper for std::visit over message variants.
#pragma once

namespace gpt::util {

template <class... Fs>
struct Overloaded : Fs... {
  using Fs::operator()...;
};

}  // namespace gpt::util
