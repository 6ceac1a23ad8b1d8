#include "frame_seal.h"

#include <openssl/evp.h>

#include <cstring>
#include <stdexcept>

namespace gpt::net {
namespace {

constexpr int kKeyBytes = 32;

// SHA-256 of a label and the job secret: one key (or password) per use.
void derive(const char* label, std::size_t label_bytes, std::span<const unsigned char, 32> secret,
            unsigned char (&key)[kKeyBytes]) {
  EVP_MD_CTX* md = EVP_MD_CTX_new();
  unsigned int len = 0;
  const bool ok = md && EVP_DigestInit_ex(md, EVP_sha256(), nullptr) == 1 &&
                  EVP_DigestUpdate(md, label, label_bytes) == 1 &&
                  EVP_DigestUpdate(md, secret.data(), secret.size()) == 1 &&
                  EVP_DigestFinal_ex(md, key, &len) == 1 && len == kKeyBytes;
  EVP_MD_CTX_free(md);
  if (!ok) throw std::runtime_error("cannot derive a key from the job's secret (OpenSSL)");
}

// The frame key is a hash of the job secret under a label of its own, so
// that it is never the very key CURVE uses.
void derive_key(std::span<const unsigned char, 32> secret, unsigned char (&key)[kKeyBytes]) {
  static constexpr char kLabel[] = "gpthread sealed frames v1";
  derive(kLabel, sizeof kLabel, secret, key);
}

void put_nonce(unsigned char* out, std::uint32_t sender, std::uint64_t counter) {
  std::memcpy(out, &sender, 4);
  std::memcpy(out + 4, &counter, 8);
}

}  // namespace

std::string admission_password(std::span<const unsigned char, 32> job_secret) {
  static constexpr char kLabel[] = "gpthread node admission v1";
  unsigned char hash[kKeyBytes];
  derive(kLabel, sizeof kLabel, job_secret, hash);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string text;
  for (unsigned char b : hash) {
    text += kHex[b >> 4];
    text += kHex[b & 15];
  }
  OPENSSL_cleanse(hash, sizeof hash);
  return text;
}

void FrameSeal::CipherFree::operator()(EVP_CIPHER_CTX* ctx) const { EVP_CIPHER_CTX_free(ctx); }

FrameSeal::FrameSeal(std::span<const unsigned char, 32> job_secret, std::uint32_t self)
    : sealer_(EVP_CIPHER_CTX_new()), opener_(EVP_CIPHER_CTX_new()), self_(self) {
  unsigned char key[kKeyBytes];
  derive_key(job_secret, key);
  // The key schedule is set up once; each frame only sets its nonce.
  const bool ok = sealer_ && opener_ &&
                  EVP_EncryptInit_ex(sealer_.get(), EVP_aes_256_gcm(), nullptr, key, nullptr) == 1 &&
                  EVP_DecryptInit_ex(opener_.get(), EVP_aes_256_gcm(), nullptr, key, nullptr) == 1;
  OPENSSL_cleanse(key, sizeof key);
  if (!ok) throw std::runtime_error("cannot set up AES-256-GCM (OpenSSL)");
}

FrameSeal::~FrameSeal() = default;

std::vector<std::byte> FrameSeal::seal(std::span<const std::byte> plain) {
  if (plain.size() > static_cast<std::size_t>(INT32_MAX - kOverhead)) throw std::length_error("frame too large to seal");
  if (sent_ == UINT64_MAX) throw std::runtime_error("frame counter exhausted");
  std::vector<std::byte> out(kOverhead + plain.size());
  auto* o = reinterpret_cast<unsigned char*>(out.data());
  put_nonce(o, self_, ++sent_);
  int len = 0;
  EVP_CIPHER_CTX* c = sealer_.get();
  const bool ok = EVP_EncryptInit_ex(c, nullptr, nullptr, nullptr, o) == 1 &&
                  EVP_EncryptUpdate(c, o + kNonceBytes, &len, reinterpret_cast<const unsigned char*>(plain.data()),
                                    static_cast<int>(plain.size())) == 1 &&
                  EVP_EncryptFinal_ex(c, o + kNonceBytes + len, &len) == 1 &&
                  EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, kTagBytes, o + kNonceBytes + plain.size()) == 1;
  if (!ok) throw std::runtime_error("AES-256-GCM sealing failed (OpenSSL)");
  return out;
}

std::variant<FrameSeal::Opened, FrameSeal::Refusal> FrameSeal::open(std::span<const std::byte> sealed) {
  if (sealed.size() < kOverhead) return Refusal::kTooShort;
  const auto* in = reinterpret_cast<const unsigned char*>(sealed.data());
  std::uint32_t sender;
  std::uint64_t counter;
  std::memcpy(&sender, in, 4);
  std::memcpy(&counter, in + 4, 8);
  const std::size_t n = sealed.size() - kOverhead;
  Opened opened{sender, std::vector<std::byte>(n)};
  auto* out = reinterpret_cast<unsigned char*>(opened.plain.data());
  int len = 0;
  EVP_CIPHER_CTX* c = opener_.get();
  // The tag is set before the data goes through; the plaintext is used
  // only if the final check passes.
  const bool ok = EVP_DecryptInit_ex(c, nullptr, nullptr, nullptr, in) == 1 &&
                  EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, kTagBytes,
                                      const_cast<unsigned char*>(in + kNonceBytes + n)) == 1 &&
                  EVP_DecryptUpdate(c, out, &len, in + kNonceBytes, static_cast<int>(n)) == 1 &&
                  EVP_DecryptFinal_ex(c, out + len, &len) == 1;
  if (!ok) return Refusal::kForged;
  // Only an authentic frame may move the counter on.
  std::uint64_t& last = last_opened_[sender];
  if (counter <= last) return Refusal::kReplayed;
  last = counter;
  return opened;
}

std::string_view FrameSeal::describe(Refusal r) {
  switch (r) {
    case Refusal::kTooShort: return "too short to be a sealed frame";
    case Refusal::kForged: return "not sealed with the job's key, or changed on the way";
    case Refusal::kReplayed: return "a replay of a frame already received";
  }
  return "refused";
}

}  // namespace gpt::net
