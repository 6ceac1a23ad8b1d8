// dlopen, dlsym, dlclose, dlinfo and dlerror for the whole job (glibc
// programs; docs/libc-shim.md "dlopen", docs/user-guide.md). A handle means
// the same library on every node, and the library's functions and data are
// at the same addresses on every node:
//
// * The job keeps one table of open libraries (Table), in the global heap,
//   under a gpthread mutex, found by every node through node 0's registry
//   of names (the one sem_open uses, under a name no semaphore can have).
// * Entry i of the table owns slot i of a range of addresses no mapping of
//   the kernel's choosing reaches (kSlotBase): whichever node loads the
//   library maps it at the slot (library_placement.h), and the handle the
//   program gets is the slot's address, the same value on every node.
// * Each node loads a library the first time one of its threads uses the
//   handle (dlopen, dlsym, dlinfo), with the same file name and flags, so it
//   lands at the same address; the last dlclose anywhere frees the entry and
//   each node unloads its copy at its next dl call.
// * What stays per node: the library's writable data (its .data and .bss,
//   one copy per node, as its code is) and its constructors, which run once
//   on each node that loads it. __thread variables are per thread anyway.
//
// One-node jobs, dlopen(NULL) and handles that are not the job's go
// straight to the libc.
#include <dlfcn.h>
#include <errno.h>
#include <link.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "coherence.h"
#include "diag.h"
#include "futex_lock.h"
#include "gpt/channel_client.h"
#include "library_placement.h"
#include "library_slots.h"
#include "runtime.h"

#define GPT_API extern "C" __attribute__((visibility("default")))

// Named from dlsym's assembly below.
extern "C" {
// The libc's dlsym, once found (our dlsym is the program's: dlvsym finds it).
__attribute__((visibility("hidden"))) void* gpt_libc_dlsym = nullptr;
__attribute__((visibility("hidden"))) void* gpt_find_libc_dlsym();
__attribute__((visibility("hidden"))) void* gpt_job_dlsym(void* handle, const char* name);
}

namespace {

using gpt::dl::kSlotBase;
using gpt::dl::kSlotBytes;
using gpt::dl::kSlots;
using gpt::dl::slot_address;

constexpr std::size_t kNameMax = 1024;
// The registry name: a '/' inside, which sem_open never lets through.
constexpr char kTableName[] = "gpt/dlopen-table";

struct Entry {
  std::uint64_t serial;     // which load of the slot this is (0: never used)
  std::uint32_t opens;      // dlopen calls not yet closed, job-wide (0: free)
  std::int32_t mode;        // the first dlopen's flags, which every node loads with
  std::uintptr_t loaded_at; // l_addr where the first node loaded it
  char name[kNameMax];
};

struct Table {
  pthread_mutex_t lock;  // recursive: a constructor may dlopen
  std::uint64_t serials;
  std::uint32_t next_slot;  // slots are handed out round-robin
  Entry entries[kSlots];
};

// This node's copy of each slot's library.
struct Local {
  std::uint64_t serial = 0;
  void* handle = nullptr;  // the libc's handle, on this node
};
Local g_local[kSlots];  // guarded by the table's lock

std::atomic<Table*> g_table{nullptr};
gpt::FutexLock g_table_lock;  // finding the table, once per node

thread_local const char* t_error = nullptr;  // our own dlerror, before the libc's

template <class F>
F libc_function(const char* name) {
  using Sym = void* (*)(void*, const char*);
  auto* sym = reinterpret_cast<Sym>(gpt_find_libc_dlsym());
  void* p = sym ? sym(RTLD_NEXT, name) : nullptr;
  if (!p) gpt::rt::die("cannot find the libc's dynamic loading functions", 127);
  return reinterpret_cast<F>(p);
}

struct LibcFunctions {
  void* (*dlopen)(const char*, int);
  int (*dlclose)(void*);
  int (*dlinfo)(void*, int, void*);
  char* (*dlerror)();
};
// Found once, before the first is used: a lookup made later (a successful
// dlsym) would clear the error dlerror is about to report.
const LibcFunctions& libc() {
  static const LibcFunctions fns = {
      libc_function<void* (*)(const char*, int)>("dlopen"),
      libc_function<int (*)(void*)>("dlclose"),
      libc_function<int (*)(void*, int, void*)>("dlinfo"),
      libc_function<char* (*)()>("dlerror"),
  };
  return fns;
}
__attribute__((constructor)) void find_libc_functions() { (void)libc(); }

void* libc_dlopen(const char* name, int mode) { return libc().dlopen(name, mode); }
int libc_dlclose(void* handle) { return libc().dlclose(handle); }
int libc_dlinfo(void* handle, int request, void* arg) { return libc().dlinfo(handle, request, arg); }
char* libc_dlerror() { return libc().dlerror(); }

[[nodiscard]] bool job_wide() {
  gpt::rt::ensure_started();
  return gpt::dl::libraries_job_wide();
}

// The slot a job handle names, or kSlots for any other value.
[[nodiscard]] std::uint32_t slot_of(const void* handle) {
  const auto p = reinterpret_cast<std::uintptr_t>(handle);
  if (p < kSlotBase || p - kSlotBase >= kSlots * kSlotBytes || (p - kSlotBase) % kSlotBytes) return kSlots;
  return static_cast<std::uint32_t>((p - kSlotBase) / kSlotBytes);
}

// The job's table: made by the first node to ask, found by the others.
Table* table() {
  if (Table* t = g_table.load(std::memory_order_acquire)) return t;
  gpt::Held<gpt::FutexLock> hold(g_table_lock);
  if (Table* t = g_table.load(std::memory_order_relaxed)) return t;
  auto* candidate = static_cast<Table*>(calloc(1, sizeof(Table)));
  if (!candidate) return nullptr;
  pthread_mutexattr_t attr;
  pthread_mutexattr_init(&attr);
  pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
  pthread_mutex_init(&candidate->lock, &attr);
  pthread_mutexattr_destroy(&attr);
  gpt::galloc::release();  // its initial state, for whichever node finds it
  gpt::channel::SemNameRequest request{static_cast<std::uint32_t>(gpt::channel::SemNameOp::kOpen),
                                       gpt::channel::kSemCreate, reinterpret_cast<std::uintptr_t>(candidate),
                                       {}};
  memcpy(request.name, kTableName, sizeof kTableName);
  gpt::channel::SemNameReply reply{};
  gpt::channel::Client client(gpt::rt::state().channel);
  const auto r = client.call(gpt::channel::Op::kSemName, request, reply);
  if (r.status != 0 || !reply.created) {
    pthread_mutex_destroy(&candidate->lock);
    free(candidate);
  }
  if (r.status != 0) return nullptr;
  if (!reply.created) gpt::galloc::acquire();  // the creator's initialisation
  auto* t = reinterpret_cast<Table*>(reply.address);
  g_table.store(t, std::memory_order_release);
  return t;
}

class Locked {
 public:
  explicit Locked(Table* t) : t_(t) { pthread_mutex_lock(&t_->lock); }
  ~Locked() { pthread_mutex_unlock(&t_->lock); }
  Locked(const Locked&) = delete;
  Locked& operator=(const Locked&) = delete;

 private:
  Table* t_;
};

// This node lets go of the libraries the job closed (or whose slot now
// holds another one). Table locked.
void unload_closed(Table& t) {
  for (std::uint32_t i = 0; i < kSlots; ++i) {
    Local& l = g_local[i];
    if (!l.handle) continue;
    const Entry& e = t.entries[i];
    if (e.opens > 0 && e.serial == l.serial) continue;
    libc_dlclose(l.handle);
    l = Local{};
  }
}

// The library's base address, as ld.so records it.
[[nodiscard]] std::uintptr_t base_of(void* handle) {
  link_map* map = nullptr;
  if (libc_dlinfo(handle, RTLD_DI_LINKMAP, &map) != 0 || !map) return 0;
  return map->l_addr;
}

// This node's handle of slot i's library, loaded at the slot if need be.
// Table locked, entry in use. Null if it cannot be loaded (dlerror says why).
void* load_here(Table& t, std::uint32_t i) {
  Entry& e = t.entries[i];
  Local& l = g_local[i];
  if (l.handle && l.serial == e.serial) return l.handle;
  unload_closed(t);
  void* handle;
  {
    gpt::shim::LibraryPlacement place(slot_address(i), kSlotBytes);
    handle = libc_dlopen(e.name, e.mode);
  }
  if (!handle) return nullptr;
  l = Local{e.serial, handle};
  const std::uintptr_t base = base_of(handle);
  if (e.loaded_at == 0) {
    e.loaded_at = base;
  } else if (base != e.loaded_at) {
    // ld.so found it loaded already (a dependency of the program, or the
    // same file under another name) at an address of this node's own.
    gpt::rt::diag()
        .text("dlopen: ")
        .text(e.name)
        .text(" is loaded at a different address on node ")
        .num(gpt::rt::state().node_id)
        .text(" than where the job first loaded it: it was loaded there before (a dependency of the "
              "program, or the same file opened under another name); pointers into it differ by node")
        .emit();
  }
  return handle;
}

void say_data_is_per_node() {
  static std::atomic<bool> told{false};
  if (told.exchange(true)) return;
  gpt::rt::diag()
      .text("dlopen: a library's functions and data are at the same address on every node, but its "
            "writable globals (.data, .bss) are one copy per node, and its constructors run on each "
            "node that uses it (docs/user-guide.md, \"Plug-ins\")")
      .emit();
}

void* job_dlopen(const char* name, int mode) {
  Table* t = table();
  if (!t) {
    t_error = "dlopen: the job's table of libraries cannot be reached";
    return nullptr;
  }
  const std::size_t length = strnlen(name, kNameMax);
  if (length == kNameMax) {
    t_error = "dlopen: file name too long for a job-wide handle (1023 bytes at most)";
    return nullptr;
  }
  Locked hold(t);
  unload_closed(*t);
  std::uint32_t found = kSlots;
  for (std::uint32_t i = 0; i < kSlots && found == kSlots; ++i)
    if (t->entries[i].opens > 0 && strcmp(t->entries[i].name, name) == 0) found = i;
  if (found < kSlots) {
    if (!load_here(*t, found)) return nullptr;
    ++t->entries[found].opens;
    return reinterpret_cast<void*>(slot_address(found));
  }
  if (mode & RTLD_NOLOAD) return libc_dlopen(name, mode);  // not the job's: this node's answer
  for (std::uint32_t n = 0; n < kSlots && found == kSlots; ++n) {
    const std::uint32_t i = (t->next_slot + n) % kSlots;
    if (t->entries[i].opens == 0 && !g_local[i].handle) found = i;
  }
  if (found == kSlots) {
    t_error = "dlopen: too many libraries open in the job at once (256)";
    return nullptr;
  }
  Entry& e = t->entries[found];
  e.serial = ++t->serials;
  e.mode = mode;
  e.loaded_at = 0;
  memcpy(e.name, name, length + 1);
  e.opens = 1;  // in use while it loads (a constructor that opens it again finds it)
  if (!load_here(*t, found)) {
    e.opens = 0;
    return nullptr;
  }
  t->next_slot = (found + 1) % kSlots;
  say_data_is_per_node();
  return reinterpret_cast<void*>(slot_address(found));
}

// This node's handle for a job handle; null (and dlerror) for a closed one.
void* local_handle(std::uint32_t i) {
  Table* t = table();
  if (!t) {
    t_error = "the job's table of libraries cannot be reached";
    return nullptr;
  }
  Locked hold(t);
  if (t->entries[i].opens == 0) {
    t_error = "invalid handle: the library was closed";
    return nullptr;
  }
  return load_here(*t, i);
}

int job_dlclose(std::uint32_t i) {
  Table* t = table();
  if (!t) return -1;
  Locked hold(t);
  Entry& e = t->entries[i];
  if (e.opens == 0) {
    t_error = "dlclose: invalid handle: the library was closed";
    return -1;
  }
  if (--e.opens == 0) unload_closed(*t);
  return 0;
}

}  // namespace

bool gpt::dl::libraries_job_wide() {
  const auto& s = gpt::rt::state();
  return s.channel && s.node_count > 1 && !s.channel->header.spmd && !s.fork_child;
}

bool gpt::dl::load_slot_here(std::uint32_t i, const char** why) {
  *why = "the job's table of libraries cannot be reached";
  if (i >= kSlots || !job_wide()) return false;
  Table* t = table();
  if (!t) return false;
  Locked hold(t);
  if (t->entries[i].opens == 0) {
    *why = "no library is open there: the range of a closed plug-in, or of none";
    return false;
  }
  // The program's pending dlerror message is its own: keep it.
  const char* pending = t_error;
  const bool loaded = load_here(*t, i) != nullptr;
  if (!loaded) {
    const char* libc_says = t_error ? t_error : libc_dlerror();
    *why = libc_says ? libc_says : "its library cannot be loaded on this node";
  }
  t_error = pending;
  return loaded;
}

extern "C" {

// The libc's dlsym, through dlvsym (which the runtime does not replace):
// asking it with RTLD_NEXT from here finds the definition after ours.
void* gpt_find_libc_dlsym() {
  void* sym = __atomic_load_n(&gpt_libc_dlsym, __ATOMIC_ACQUIRE);
  if (sym) return sym;
  sym = dlvsym(RTLD_NEXT, "dlsym", "GLIBC_2.34");
  if (!sym) sym = dlvsym(RTLD_NEXT, "dlsym", "GLIBC_2.2.5");
  if (!sym) gpt::rt::die("cannot find the libc's dlsym", 127);
  __atomic_store_n(&gpt_libc_dlsym, sym, __ATOMIC_RELEASE);
  return sym;
}

void* gpt_job_dlsym(void* handle, const char* name) {
  using Sym = void* (*)(void*, const char*);
  if (!job_wide()) return reinterpret_cast<Sym>(gpt_find_libc_dlsym())(handle, name);
  void* here = local_handle(slot_of(handle));
  if (!here) return nullptr;
  return reinterpret_cast<Sym>(gpt_find_libc_dlsym())(here, name);
}

}  // extern "C"

// dlsym: a job handle is looked up in this node's copy; any other handle
// (RTLD_DEFAULT, RTLD_NEXT, dlopen(NULL)'s, dlmopen's) goes to the libc's
// dlsym by a jump, so that it sees the caller's return address, which
// RTLD_NEXT is relative to.
__asm__(R"(
  .text
  .globl dlsym
  .type dlsym, @function
dlsym:
  .cfi_startproc
  movabs $0x100000000000, %rax
  mov %rdi, %r11
  sub %rax, %r11
  movabs $0x4000000000, %rax
  cmp %rax, %r11
  jb gpt_job_dlsym
  mov gpt_libc_dlsym(%rip), %rax
  test %rax, %rax
  jz 1f
  jmp *%rax
1:
  push %rdi
  .cfi_adjust_cfa_offset 8
  push %rsi
  .cfi_adjust_cfa_offset 8
  sub $8, %rsp
  .cfi_adjust_cfa_offset 8
  call gpt_find_libc_dlsym
  add $8, %rsp
  .cfi_adjust_cfa_offset -8
  pop %rsi
  .cfi_adjust_cfa_offset -8
  pop %rdi
  .cfi_adjust_cfa_offset -8
  jmp *%rax
  .cfi_endproc
  .size dlsym, .-dlsym
)");
static_assert(kSlotBase == 0x100000000000 && kSlots * kSlotBytes == 0x4000000000,
              "dlsym's range check above");

GPT_API void* dlopen(const char* name, int mode) {
  if (!name || !job_wide()) return libc_dlopen(name, mode);
  return job_dlopen(name, mode);
}

GPT_API int dlclose(void* handle) {
  const std::uint32_t i = slot_of(handle);
  if (i == kSlots || !job_wide()) return libc_dlclose(handle);
  return job_dlclose(i);
}

GPT_API int dlinfo(void* handle, int request, void* arg) {
  const std::uint32_t i = slot_of(handle);
  if (i == kSlots || !job_wide()) return libc_dlinfo(handle, request, arg);
  void* here = local_handle(i);
  return here ? libc_dlinfo(here, request, arg) : -1;
}

GPT_API char* dlerror() {
  if (const char* mine = t_error) {
    t_error = nullptr;
    (void)libc_dlerror();  // the libc's older message is superseded
    return const_cast<char*>(mine);
  }
  return libc_dlerror();
}
