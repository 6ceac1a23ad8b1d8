// Thread-specific data across nodes (docs/threads.md). Node 0's agent keeps
// the job's key registry (tools/gpt-node/keys.cc), so a key made on any node
// is valid on every node; values are per thread, in TLS; destructors (code
// addresses, the same on every node) run when a gpthread thread ends.
// Without an agent (one node) the registry is local.
#include <errno.h>
#include <pthread.h>
#include <sys/mman.h>

#include <cstdint>
#include <cstring>

#include "gpt/channel_client.h"
#include "futex_lock.h"
#include "diag.h"
#include "runtime.h"
#include "service.h"
#include "tcb.h"
#include "local_memory.h"

#define GPT_API extern "C" __attribute__((visibility("default")))

namespace gpt::threads {
namespace {

using channel::kMaxKeys;  // the size of node 0's registry
constexpr int kDestructorRounds = 4;      // PTHREAD_DESTRUCTOR_ITERATIONS

// The calling kernel thread's values, mapped on the first set: only a
// pointer in TLS, which must stay small (threads/vehicles.h).
using Values = void* [kMaxKeys];
thread_local Values* t_values __attribute__((tls_model("initial-exec")));

Values& values() {
  if (!t_values) {
    void* p = rt::map_local(nullptr, sizeof(Values), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) rt::die("cannot map a thread's pthread_setspecific values", 134);
    t_values = static_cast<Values*>(p);
  }
  return *t_values;
}

// This node's view of the registry: the whole registry without an agent,
// a cache of destructors with one.
struct Entry {
  bool known;
  bool used;
  void (*destructor)(void*);
};
Entry g_keys[kMaxKeys];
FutexLock g_keys_lock;

using channel::KeyOp;
using channel::KeyReply;

int key_call(KeyOp op, std::uint32_t key, void (*destructor)(void*), KeyReply* out) {
  const channel::KeyRequest req{static_cast<std::uint32_t>(op), key, reinterpret_cast<std::uintptr_t>(destructor)};
  channel::Client client(rt::state().channel);
  auto r = client.call(channel::Op::kKey, req, *out);
  return r.status < 0 ? -r.status : 0;
}

// The destructor of `key`, from the cache or asked from node 0 once.
void (*destructor_of(std::uint32_t key))(void*) {
  {
    Held<FutexLock> hold(g_keys_lock);
    if (g_keys[key].known) return g_keys[key].used ? g_keys[key].destructor : nullptr;
  }
  if (!rt::state().channel) return nullptr;
  KeyReply r{};
  if (key_call(KeyOp::kQuery, key, nullptr, &r) != 0) return nullptr;
  auto* fn = reinterpret_cast<void (*)(void*)>(r.destructor);
  Held<FutexLock> hold(g_keys_lock);
  g_keys[key] = Entry{true, true, fn};
  return fn;
}

}  // namespace

std::uint32_t save_key_values(KeyValue* out, std::uint32_t capacity) {
  std::uint32_t n = 0;
  if (!t_values) return 0;
  for (std::uint32_t k = 0; k < kMaxKeys && n < capacity; ++k)
    if (void* v = (*t_values)[k]) {
      if (out) out[n] = KeyValue{k, v};
      ++n;
    }
  return n;
}

void load_key_values(const KeyValue* in, std::uint32_t n) {
  t_values = nullptr;  // it may name another node's memory (a copied TLS image)
  if (n == 0) return;
  Values& v = values();
  for (std::uint32_t i = 0; i < n; ++i)
    if (in[i].key < kMaxKeys) v[in[i].key] = in[i].value;
}

void unmap_key_values() {
  if (t_values) rt::unmap_local(t_values, sizeof(Values));
  t_values = nullptr;
}

void run_key_destructors() {
  for (int round = 0; round < kDestructorRounds; ++round) {
    bool any = false;
    if (!t_values) return;
    for (std::uint32_t k = 0; k < kMaxKeys; ++k) {
      void* value = (*t_values)[k];
      if (!value) continue;
      (*t_values)[k] = nullptr;
      if (auto* fn = destructor_of(k)) {
        fn(value);
        any = true;
      }
    }
    if (!any) return;
  }
}

}  // namespace gpt::threads

using namespace gpt;
using namespace gpt::threads;

GPT_API int pthread_key_create(pthread_key_t* key, void (*destructor)(void*)) {
  rt::ensure_started();
  if (rt::state().channel) {
    KeyReply r{};
    if (int err = key_call(KeyOp::kCreate, 0, destructor, &r)) return err;
    Held<FutexLock> hold(g_keys_lock);
    g_keys[r.key] = Entry{true, true, destructor};
    *key = r.key;
    return 0;
  }
  Held<FutexLock> hold(g_keys_lock);
  for (std::uint32_t k = 0; k < kMaxKeys; ++k)
    if (!g_keys[k].used) {
      g_keys[k] = Entry{true, true, destructor};
      *key = k;
      return 0;
    }
  return EAGAIN;
}

GPT_API int pthread_key_delete(pthread_key_t key) {
  if (key >= kMaxKeys) return EINVAL;
  if (rt::state().channel) {
    KeyReply r{};
    if (int err = key_call(KeyOp::kDelete, key, nullptr, &r)) return err;
  } else if (!g_keys[key].used) {
    return EINVAL;
  }
  Held<FutexLock> hold(g_keys_lock);
  g_keys[key] = Entry{false, false, nullptr};
  return 0;
}

GPT_API void* pthread_getspecific(pthread_key_t key) {
  return key < kMaxKeys && t_values ? (*t_values)[key] : nullptr;
}

GPT_API int pthread_setspecific(pthread_key_t key, const void* value) {
  if (key >= kMaxKeys) return EINVAL;
  if (!value && !t_values) return 0;
  values()[key] = const_cast<void*>(value);
  return 0;
}
