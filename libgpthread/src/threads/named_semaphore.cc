// Named semaphores: sem_open, sem_close, sem_unlink. A name is the job's,
// not the machine's: node 0's agent keeps the one namespace
// (tools/gpt-node/sem_names.h), so a name opened on any node is the same
// semaphore, an unnamed one in the global heap (semaphore.cc) that every
// node reaches. A program running without an agent keeps the namespace
// itself. The names never reach the file system (/dev/shm): other
// processes of the machine cannot open them (docs/threads.md).
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <semaphore.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "coherence.h"
#include "futex_lock.h"
#include "gpt/channel_client.h"
#include "gpt/sem_names.h"
#include "runtime.h"

#define GPT_API extern "C" __attribute__((visibility("default")))

namespace {

using gpt::channel::SemNameOp;
using gpt::channel::SemNameReply;
using gpt::channel::SemNameRequest;

// Without an agent (a plain one-process run): the namespace is this process's.
gpt::channel::SemNames g_local_names;
gpt::FutexLock g_local_lock;

sem_t* failed(int err) {
  errno = err;
  return SEM_FAILED;
}

// The name without its leading slashes, checked as the libc does: musl
// says ENAMETOOLONG for a long one, glibc EINVAL for any bad one.
[[nodiscard]] int check_name(const char* name, const char** out) {
  if (!name) return EINVAL;
  while (*name == '/') ++name;
  const std::size_t length = strnlen(name, gpt::channel::kSemNameMax + 1);
  if (length == 0 || memchr(name, '/', length)) return EINVAL;
#ifdef __GLIBC__
  if (length > gpt::channel::kSemNameMax) return EINVAL;
#else
  if (length > gpt::channel::kSemNameMax) return ENAMETOOLONG;
#endif
  *out = name;
  return 0;
}

// One namespace call: the agent's (through node 0), or this process's.
[[nodiscard]] int call(SemNameOp op, const char* name, std::uint32_t oflag, std::uint64_t address,
                       SemNameReply* reply) {
  if (auto* channel = gpt::rt::state().channel) {
    SemNameRequest req{static_cast<std::uint32_t>(op), oflag, address, {}};
    if (name) memcpy(req.name, name, strlen(name) + 1);
    gpt::channel::Client client(channel);
    auto r = client.call(gpt::channel::Op::kSemName, req, *reply);
    return r.status < 0 ? -r.status : r.status;
  }
  gpt::Held<gpt::FutexLock> hold(g_local_lock);
  gpt::channel::SemNames::Result r;
  switch (op) {
    case SemNameOp::kOpen: r = g_local_names.open(name, oflag, address); break;
    case SemNameOp::kClose: r = g_local_names.close(address); break;
    case SemNameOp::kUnlink: r = g_local_names.unlink(name); break;
  }
  *reply = SemNameReply{r.address, r.created ? 1u : 0u, r.free_it ? 1u : 0u};
  return r.error;
}

}  // namespace

GPT_API sem_t* sem_open(const char* name, int oflag, ...) {
  gpt::rt::ensure_started();
  const char* key = nullptr;
  if (int err = check_name(name, &key)) return failed(err);
  unsigned value = 0;
  if (oflag & O_CREAT) {
    va_list args;
    va_start(args, oflag);
    (void)va_arg(args, int);  // mode: the name is the job's, not a file's
    value = va_arg(args, unsigned);
    va_end(args);
    if (value > SEM_VALUE_MAX) return failed(EINVAL);
  }
  // A candidate, ready before anyone can find it by name: if the name is
  // new, it becomes that name's semaphore.
  sem_t* candidate = nullptr;
  if (oflag & O_CREAT) {
    candidate = static_cast<sem_t*>(malloc(sizeof(sem_t)));
    if (!candidate) return failed(ENOMEM);
    if (sem_init(candidate, 1, value) != 0) {
      free(candidate);
      return failed(EINVAL);
    }
    gpt::galloc::release();  // its initial state, for whichever node opens it next
  }
  std::uint32_t flags = 0;
  if (oflag & O_CREAT) flags |= gpt::channel::kSemCreate;
  if (oflag & O_EXCL) flags |= gpt::channel::kSemExclusive;
  SemNameReply reply{};
  const int err = call(SemNameOp::kOpen, key, flags, reinterpret_cast<std::uintptr_t>(candidate), &reply);
  if (candidate && (err || !reply.created)) {
    sem_destroy(candidate);
    free(candidate);
  }
  if (err) return failed(err);
  if (!reply.created) gpt::galloc::acquire();  // see the creator's initialisation
  return reinterpret_cast<sem_t*>(reply.address);
}

GPT_API int sem_close(sem_t* sem) {
  gpt::rt::ensure_started();
  SemNameReply reply{};
  if (int err = call(SemNameOp::kClose, nullptr, 0, reinterpret_cast<std::uintptr_t>(sem), &reply)) {
    errno = err;
    return -1;
  }
  if (reply.free_it) free(sem);
  return 0;
}

GPT_API int sem_unlink(const char* name) {
  gpt::rt::ensure_started();
  const char* key = nullptr;
  if (int err = check_name(name, &key)) {
#ifdef __GLIBC__
    err = ENOENT;  // glibc: no such name, whatever is wrong with it
#endif
    errno = err;
    return -1;
  }
  SemNameReply reply{};
  if (int err = call(SemNameOp::kUnlink, key, 0, 0, &reply)) {
    errno = err;
    return -1;
  }
  if (reply.free_it) free(reinterpret_cast<void*>(reply.address));
  return 0;
}
