// Sealed frames between agents: every frame one agent sends another is
// encrypted and authenticated with AES-256-GCM under a key derived from the
// job's secret (the CURVE secret key every node of the job holds, see
// curve_keys.h), and carries its sender and a per-sender counter in the
// clear as its nonce:
//
//   u32 sender | u64 counter | ciphertext | 16-byte tag      (little-endian)
//
// A frame opens only if it was sealed with the job's key, unchanged; its
// sender is then known for certain (no routing id to trust), and a counter
// not above the last one opened from that sender is a replay and refused.
//
// Why not CurveZMQ for this traffic, as for the launcher's: CURVE seals every
// message with XSalsa20-Poly1305 inside ZeroMQ's I/O thread, ~1.3 GB/s here
// (3.1 µs per 4 KiB page, once to send and once to receive), and page copies
// are most of what agents send: a sequential scan paid ~8 µs of its ~18 µs
// per page for it. AES-GCM runs on the CPU's AES and carry-less multiply
// units (OpenSSL: ~4 GB/s here, 1 µs per page). docs/wire-protocol.md has
// the comparison and what each protects against.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <variant>
#include <vector>

typedef struct evp_cipher_ctx_st EVP_CIPHER_CTX;

namespace gpt::net {

class FrameSeal {
 public:
  static constexpr std::size_t kNonceBytes = 12;  // sender and counter
  static constexpr std::size_t kTagBytes = 16;
  static constexpr std::size_t kOverhead = kNonceBytes + kTagBytes;

  // `job_secret`: the job's 32-byte secret; `self`: this sender's id, unique
  // in the job (it keeps nonces unique under the one key).
  FrameSeal(std::span<const unsigned char, 32> job_secret, std::uint32_t self);
  ~FrameSeal();
  FrameSeal(const FrameSeal&) = delete;
  FrameSeal& operator=(const FrameSeal&) = delete;

  [[nodiscard]] std::vector<std::byte> seal(std::span<const std::byte> plain);

  enum class Refusal { kTooShort, kForged, kReplayed };
  struct Opened {
    std::uint32_t sender;
    std::vector<std::byte> plain;
  };
  [[nodiscard]] std::variant<Opened, Refusal> open(std::span<const std::byte> sealed);
  [[nodiscard]] static std::string_view describe(Refusal r);

 private:
  struct CipherFree {
    void operator()(EVP_CIPHER_CTX* ctx) const;
  };
  std::unique_ptr<EVP_CIPHER_CTX, CipherFree> sealer_, opener_;
  std::uint32_t self_;
  std::uint64_t sent_ = 0;
  std::unordered_map<std::uint32_t, std::uint64_t> last_opened_;
};

// The password with which an agent's peers open their connections to it
// (ZeroMQ's PLAIN mechanism, checked by the agent's ZAP handler): a hash of
// the job secret under a label of its own, 64 hex digits. It keeps those
// who do not hold the job's key from getting a single frame queued at an
// agent, so they cannot make it hold memory for them. PLAIN sends it in the
// clear: one who can read the network may connect with it, and still gets
// nothing accepted that the job's key did not seal.
[[nodiscard]] std::string admission_password(std::span<const unsigned char, 32> job_secret);

}  // namespace gpt::net
