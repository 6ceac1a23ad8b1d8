#include "hosts.h"

#include <cstdlib>
#include <sstream>

namespace gpt::launch {
namespace {

bool valid_host_name(const std::string& h) {
  if (h.empty() || h.size() > 253) return false;
  for (char c : h)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_' || c == ':' || c == '@'))
      return false;
  return h[0] != '-';  // never an option to the remote shell
}

}  // namespace

std::optional<std::vector<Host>> parse_host_list(const std::string& list, std::string& error) {
  std::vector<Host> hosts;
  std::stringstream in(list);
  std::string item;
  while (std::getline(in, item, ',')) {
    if (!valid_host_name(item)) {
      error = "--hosts: '" + item + "' is not a host name";
      return std::nullopt;
    }
    hosts.push_back(Host{item, 1});
  }
  if (hosts.empty()) {
    error = "--hosts: no hosts given";
    return std::nullopt;
  }
  return hosts;
}

std::optional<std::vector<Host>> parse_hostfile(const std::string& text, const std::string& origin,
                                                std::string& error) {
  std::vector<Host> hosts;
  std::stringstream in(text);
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    if (auto hash = line.find('#'); hash != std::string::npos) line.erase(hash);
    std::stringstream words(line);
    std::string name, word;
    if (!(words >> name)) continue;
    const std::string where = origin + " line " + std::to_string(number) + ": ";
    if (!valid_host_name(name)) {
      error = where + "'" + name + "' is not a host name";
      return std::nullopt;
    }
    Host h{name, 1};
    while (words >> word) {
      if (word.rfind("slots=", 0) != 0) {
        error = where + "unknown field '" + word + "' (only slots=K)";
        return std::nullopt;
      }
      char* end = nullptr;
      long k = std::strtol(word.c_str() + 6, &end, 10);
      if (*end || k < 1 || k > 1024) {
        error = where + "slots must be a number from 1 to 1024";
        return std::nullopt;
      }
      h.slots = static_cast<std::uint32_t>(k);
    }
    hosts.push_back(h);
  }
  if (hosts.empty()) {
    error = origin + ": no hosts in it";
    return std::nullopt;
  }
  return hosts;
}

std::uint32_t total_slots(const std::vector<Host>& hosts) {
  std::uint32_t n = 0;
  for (const Host& h : hosts) n += h.slots;
  return n;
}

std::vector<std::string> place_nodes(const std::vector<Host>& hosts, std::uint32_t nodes) {
  std::vector<std::string> placed;
  for (const Host& h : hosts)
    for (std::uint32_t s = 0; s < h.slots && placed.size() < nodes; ++s) placed.push_back(h.name);
  for (std::size_t i = 0; placed.size() < nodes; ++i) placed.push_back(hosts[i % hosts.size()].name);
  return placed;
}

std::vector<std::string> remote_shell() {
  const char* rsh = std::getenv("GPT_RSH");
  std::string text = rsh && *rsh ? rsh : "ssh -o BatchMode=yes";
  std::vector<std::string> words;
  std::stringstream in(text);
  std::string w;
  while (in >> w) words.push_back(w);
  return words;
}

std::string shell_quote(const std::string& word) {
  std::string q = "'";
  for (char c : word) {
    if (c == '\'') q += "'\\''";
    else q += c;
  }
  return q + "'";
}

}  // namespace gpt::launch
