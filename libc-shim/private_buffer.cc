#include "private_buffer.h"

#include <sys/mman.h>

#include <atomic>

#include "gpt/raw_syscall.h"

namespace gpt::shim {
namespace {

constexpr std::size_t kGrain = 64 * 1024;
// Kept buffers grow up to this; larger calls map their own.
constexpr std::size_t kKeptLimit = 4 * 1024 * 1024;
constexpr int kKept = 8;

// Trivially destructible on purpose: a call made while the process exits
// must not find its buffer unmapped by a static destructor.
struct Kept {
  std::atomic<bool> busy;
  unsigned char* data;
  std::size_t bytes;
};
Kept g_kept[kKept];

std::size_t rounded(std::size_t bytes) { return (bytes + kGrain - 1) / kGrain * kGrain; }

unsigned char* map(std::size_t bytes) {
  const long at = sys::call(SYS_mmap, 0, static_cast<long>(bytes), PROT_READ | PROT_WRITE,
                            MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  return at < 0 && at > -4096 ? nullptr : reinterpret_cast<unsigned char*>(at);
}

}  // namespace

bool PrivateBuffer::reserve(std::size_t bytes) {
  if (bytes <= bytes_ && data_) return true;
  unmap();
  const std::size_t want = rounded(bytes ? bytes : 1);
  data_ = map(want);
  if (!data_) return false;
  bytes_ = want;
  return true;
}

void PrivateBuffer::unmap() {
  if (data_) sys::call(SYS_munmap, sys::arg(data_), static_cast<long>(bytes_));
  data_ = nullptr;
  bytes_ = 0;
}

BounceBuffer::BounceBuffer(std::size_t bytes) {
  if (bytes <= kKeptLimit) {
    for (int i = 0; i < kKept; ++i) {
      Kept& k = g_kept[i];
      if (k.busy.load(std::memory_order_relaxed) || k.busy.exchange(true, std::memory_order_acquire)) continue;
      if (bytes > k.bytes || !k.data) {
        const std::size_t want = rounded(bytes ? bytes : 1);
        unsigned char* grown = map(want);
        if (!grown) {
          k.busy.store(false, std::memory_order_release);
          break;
        }
        if (k.data) sys::call(SYS_munmap, sys::arg(k.data), static_cast<long>(k.bytes));
        k.data = grown;
        k.bytes = want;
      }
      kept_ = i;
      data_ = k.data;
      return;
    }
  }
  if (own_.reserve(bytes)) data_ = own_.data();
}

BounceBuffer::~BounceBuffer() {
  if (kept_ >= 0) g_kept[kept_].busy.store(false, std::memory_order_release);
}

}  // namespace gpt::shim
