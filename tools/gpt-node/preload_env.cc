#include "preload_env.h"

#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace gpt::node {

std::vector<std::string> preload_environment(std::string& error) {
  const char* library = std::getenv("GPT_PRELOAD");
  if (!library || !*library) return {};
  if (access(library, R_OK) != 0) {
    error = std::string("--preload: cannot read ") + library + " on this host (" + std::strerror(errno) +
            "): install gpthread at the same path on every host";
    return {};
  }
  // Ours first, then the user's own (the runtime gives the user's back).
  std::string preload = std::string("LD_PRELOAD=") + library;
  if (const char* user = std::getenv("LD_PRELOAD"); user && *user) preload += std::string(":") + user;
  std::vector<std::string> env{preload};
  if (const char* now = std::getenv("LD_BIND_NOW"); !now || !*now) {
    env.emplace_back("LD_BIND_NOW=1");
    env.emplace_back("GPT_PRELOAD_BIND_NOW=1");  // ours to take out again
  }
  return env;
}

}  // namespace gpt::node
