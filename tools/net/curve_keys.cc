#include "curve_keys.h"

#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <zmq.h>

namespace gpt::net {

CurveKeys generate_curve_keys() {
  char pub[41], sec[41];
  if (zmq_curve_keypair(pub, sec) != 0)
    throw std::runtime_error("cannot make CURVE keys (libzmq built without CURVE?)");
  return CurveKeys{pub, sec};
}

std::string encode_curve_keys(const CurveKeys& keys) { return keys.public_key + "\n" + keys.secret_key + "\n"; }

std::optional<CurveKeys> decode_curve_keys(const std::string& text) {
  if (text.size() != 82 || text[40] != '\n' || text[81] != '\n') return std::nullopt;
  CurveKeys keys{text.substr(0, 40), text.substr(41, 40)};
  unsigned char raw[32];
  for (const std::string* k : {&keys.public_key, &keys.secret_key})
    if (!zmq_z85_decode(raw, k->c_str())) return std::nullopt;
  return keys;
}

std::optional<CurveKeys> read_curve_keys(int fd, std::string& error, bool exact) {
  constexpr std::size_t kKeyText = 82;
  std::string text;
  char buf[128];
  for (;;) {
    const std::size_t want = exact ? kKeyText - text.size() : sizeof buf;
    if (want == 0) break;
    ssize_t n = read(fd, buf, want);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      error = std::string("cannot read the job's keys: ") + std::strerror(errno);
      if (!exact) close(fd);
      return std::nullopt;
    }
    if (n == 0 || text.size() > 256) break;
    text.append(buf, static_cast<std::size_t>(n));
  }
  if (!exact) close(fd);
  auto keys = decode_curve_keys(text);
  if (!keys) error = "the job's keys are malformed or missing";
  return keys;
}

}  // namespace gpt::net
