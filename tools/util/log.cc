#include "log.h"

#include <unistd.h>

#include <string>

namespace gpt::util {
namespace {
std::string& prefix() {
  static std::string p = "gpthread";
  return p;
}
}  // namespace

void set_log_prefix(std::string_view p) { prefix() = std::string(p); }

void log_line(std::string_view message) {
  std::string line = prefix();
  line += ": ";
  line += message;
  line += '\n';
  std::string_view rest = line;
  while (!rest.empty()) {
    ssize_t n = write(2, rest.data(), rest.size());
    if (n <= 0) break;
    rest.remove_prefix(static_cast<size_t>(n));
  }
}

}  // namespace gpt::util
