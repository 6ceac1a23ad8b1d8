// The job's one namespace of named semaphores (sem_open): which name is
// which semaphore (its global address), how often it is open, and whether
// it was unlinked. Node 0's agent keeps it for a job; a program running
// without an agent keeps its own. Freestanding (no allocation, no library
// calls) so that the runtime and the agent share it.
#pragma once

#include <cstddef>
#include <cstdint>

#include "channel_ops.h"

namespace gpt::channel {

class SemNames {
 public:
  struct Result {
    std::int32_t error = 0;     // 0 or a positive errno
    std::uint64_t address = 0;  // the semaphore (open), or the one to free
    bool created = false;       // open: `candidate` is now that name's
    bool free_it = false;       // close/unlink: nobody can reach it any more
  };

  // sem_open: the semaphore named `name` (already checked by the caller),
  // or, with O_CREAT and none of that name, `candidate`, which the caller
  // initialised before asking.
  [[nodiscard]] Result open(const char* name, std::uint32_t oflag, std::uint64_t candidate) {
    Entry* e = find(name);
    if (e) {
      if ((oflag & kSemCreate) && (oflag & kSemExclusive)) return {kEEXIST};
      ++e->opens;
      return {0, e->address};
    }
    if (!(oflag & kSemCreate)) return {kENOENT};
    Entry* slot = free_entry();
    if (!slot) return {kENFILE};
    copy_name(slot->name, name);
    slot->address = candidate;
    slot->opens = 1;
    slot->used = true;
    slot->unlinked = false;
    return {0, candidate, true};
  }

  // sem_close of one open of the semaphore at `address`.
  [[nodiscard]] Result close(std::uint64_t address) {
    for (Entry& e : entries_)
      if (e.used && e.address == address && e.opens > 0) {
        --e.opens;
        if (e.unlinked && e.opens == 0) {
          e.used = false;
          return {0, address, false, true};
        }
        return {0, address};
      }
    return {kEINVAL};
  }

  // sem_unlink: the name goes; the semaphore lives on while it is open.
  [[nodiscard]] Result unlink(const char* name) {
    Entry* e = find(name);
    if (!e) return {kENOENT};
    e->unlinked = true;
    if (e->opens == 0) {
      e->used = false;
      return {0, e->address, false, true};
    }
    return {0, e->address};
  }

 private:
  // errno values (the agent and the runtime agree with Linux's numbers).
  static constexpr std::int32_t kENOENT = 2, kEEXIST = 17, kEINVAL = 22, kENFILE = 23;

  struct Entry {
    char name[kSemNameMax + 1];
    std::uint64_t address;
    std::uint32_t opens;
    bool used;
    bool unlinked;  // no longer found by name, still open somewhere
  };

  static bool same(const char* a, const char* b) {
    std::size_t i = 0;
    for (; a[i] && a[i] == b[i]; ++i) {
    }
    return a[i] == b[i];
  }
  static void copy_name(char* to, const char* from) {
    std::size_t i = 0;
    for (; i < kSemNameMax && from[i]; ++i) to[i] = from[i];
    to[i] = 0;
  }
  Entry* find(const char* name) {
    for (Entry& e : entries_)
      if (e.used && !e.unlinked && same(e.name, name)) return &e;
    return nullptr;
  }
  Entry* free_entry() {
    for (Entry& e : entries_)
      if (!e.used) return &e;
    return nullptr;
  }

  Entry entries_[kMaxNamedSems] = {};
};

}  // namespace gpt::channel
