// The job's CURVE keys (ZeroMQ's CurveZMQ: authenticated, encrypted
// connections to the launcher; the secret key also keys the sealed frames
// between agents, frame_seal.h). gpt-launch makes one key pair per job;
// every agent gets it through a pipe it inherits (GPT_KEYS_FD), never on a
// command line, in the environment or in a file; without it nothing a peer
// sends is accepted (docs/cluster.md).
#pragma once

#include <optional>
#include <string>

namespace gpt::net {

struct CurveKeys {
  std::string public_key;  // Z85, 40 characters
  std::string secret_key;
};

[[nodiscard]] CurveKeys generate_curve_keys();

// The text a key pipe carries, and its parser (nullopt if malformed).
[[nodiscard]] std::string encode_curve_keys(const CurveKeys& keys);
[[nodiscard]] std::optional<CurveKeys> decode_curve_keys(const std::string& text);

// Reads the keys from `fd` and closes it. A pipe holds only the keys and is
// read to its end; stdin (`exact`) may go on with the program's input after
// them, so exactly the keys are read and it stays open.
[[nodiscard]] std::optional<CurveKeys> read_curve_keys(int fd, std::string& error, bool exact = false);

}  // namespace gpt::net
