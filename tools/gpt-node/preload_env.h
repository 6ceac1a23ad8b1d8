// The program's environment under gpt-launch --preload (the launcher sets
// GPT_PRELOAD to libgpthread.so's path): the runtime preloaded into a glibc
// program that was not built with gpt-cc, with lazy binding off so that no
// node writes the program's GOT after the runtime has shared its pages.
// The runtime takes these entries out again when it attaches
// (libgpthread/src/preload_attach.cc), so that programs it starts in turn
// do not inherit them.
#pragma once

#include <string>
#include <vector>

namespace gpt::node {

// Entries "NAME=value" to add to the program's environment; empty when the
// job does not preload. Sets `error` (and returns nothing) if the library
// cannot be read on this host: the loader would only warn and run the
// program without the runtime, once per node.
[[nodiscard]] std::vector<std::string> preload_environment(std::string& error);

}  // namespace gpt::node
