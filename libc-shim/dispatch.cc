// The remote half of the libc shim: syscall user dispatch and its SIGSYS
// handler (docs/libc-shim.md).
#include <errno.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <ucontext.h>

#include <atomic>
#include <cstdint>
#include <cstring>

#include "bounce.h"
#include "call_table.h"
#include "diag.h"
#include "forwarded_call.h"
#include "global_space.h"
#include "origin_calls.h"
#include "gpt/channel_client.h"
#include "gpt/raw_syscall.h"
#include "library_placement.h"
#include "program_memory.h"
#include "runtime.h"
#include "shared_file_mappings.h"
#include "shim.h"
#include "trapped_calls.h"

extern "C" char __start_gpt_syscall_text[];
extern "C" char __stop_gpt_syscall_text[];
extern "C" void gpt_signal_restorer();

namespace gpt::shim {
namespace {

constexpr long kPrSetSyscallUserDispatch = 59;
constexpr long kDispatchOff = 0, kDispatchOn = 1;
constexpr unsigned char kAllow = 0, kBlock = 1;
constexpr unsigned long kSaRestorer = 0x04000000;
constexpr long kCloneThread = 0x00010000;

bool g_forwarding = false;
// Calls reach the kernel directly here, but other nodes share the global
// space: TrappedCalls scopes trap them (trapped_calls.h).
bool g_trapping_here = false;
thread_local unsigned char t_selector __attribute__((tls_model("initial-exec")));
thread_local int t_trapped_depth __attribute__((tls_model("initial-exec")));

constexpr std::uint64_t bit(int sig) { return std::uint64_t{1} << (sig - 1); }
// Signals a thread must never block here: SIGSYS carries every system call,
// SIGSEGV every page fault of the global space.
constexpr std::uint64_t kNeverBlocked = bit(SIGSYS) | bit(SIGSEGV) | bit(SIGKILL) | bit(SIGSTOP);

struct KernelSigaction {
  void* handler;
  unsigned long flags;
  void* restorer;
  std::uint64_t mask;
};

void install_raw(int sig, void* handler, unsigned long flags, std::uint64_t mask) {
  KernelSigaction ka{handler, flags | kSaRestorer, reinterpret_cast<void*>(gpt_signal_restorer), mask};
  if (sys::call(SYS_rt_sigaction, sig, sys::arg(&ka), 0, 8) != 0)
    rt::die("cannot install a signal handler with gpthread's restorer", 127);
}

long refuse(const char* what, long error) {
  rt::diag().text(what).text(" from a thread on node ").num(rt::state().node_id)
      .text(" is not supported: only the origin (node 0) can do that; the call fails with ")
      .text(error == -ENOSYS ? "ENOSYS" : error == -ENODEV ? "ENODEV" : error == -ENOTTY ? "ENOTTY" : "EINVAL")
      .emit();
  return error;
}

// Packs the call, has the origin run it, copies the results back.
long forward(long nr, const CallShape& shape, const long* a) {
  alignas(16) unsigned char request[channel::kSlotPayload];
  alignas(16) unsigned char reply[channel::kSlotPayload];
  auto& h = *reinterpret_cast<ForwardHeader*>(request);
  std::memset(&h, 0, sizeof h);
  h.nr = static_cast<std::uint32_t>(nr);
  h.node = static_cast<std::uint32_t>(rt::state().node_id);
  for (int i = 0; i < 6; ++i) h.args[i] = static_cast<std::uint64_t>(a[i]);
  unsigned char* data = request + sizeof h;
  std::size_t in_used = 0, out_used = 0;
  for (int i = 0; i < 6; ++i) {
    const ArgShape s = shape.args[i];
    if (s.kind == Arg::kValue) continue;
    auto* p = reinterpret_cast<const char*>(a[i]);
    if (!p) {
      h.kinds[i] = Pointer::kNull;
      continue;
    }
    std::size_t in = 0, out = 0;
    switch (s.kind) {
      case Arg::kPath: {
        long n = program_strnlen(p, 4096);
        if (n < 0) return -EFAULT;
        if (n >= 4096) return -ENAMETOOLONG;
        in = static_cast<std::size_t>(n) + 1;
        h.kinds[i] = Pointer::kIn;
        break;
      }
      case Arg::kBufIn:
        in = static_cast<std::size_t>(a[s.size]);
        if (in > kMaxForwardData - in_used) in = kMaxForwardData - in_used;
        h.args[s.size] = in;  // a shorter call: the caller sees a short count
        h.kinds[i] = Pointer::kIn;
        break;
      case Arg::kBufOut:
        out = static_cast<std::size_t>(a[s.size]);
        if (out > kMaxForwardData - out_used) out = kMaxForwardData - out_used;
        h.args[s.size] = out;
        h.kinds[i] = Pointer::kOut;
        break;
      case Arg::kFixedIn:
        in = s.size;
        h.kinds[i] = Pointer::kIn;
        break;
      case Arg::kFixedOut:
        out = s.size;
        h.kinds[i] = Pointer::kOutFixed;
        break;
      case Arg::kFixedInOut:
        in = out = s.size;
        h.kinds[i] = Pointer::kInOut;
        break;
      case Arg::kValue:
        break;
    }
    if (in_used + in > kMaxForwardData || out_used + out > kMaxForwardData) return -E2BIG;
    if (in && !copy_from_program(data + in_used, p, in)) return -EFAULT;
    if (out && !program_writable(const_cast<char*>(p), out)) return -EFAULT;
    h.in_bytes[i] = static_cast<std::uint32_t>(in);
    h.out_bytes[i] = static_cast<std::uint32_t>(out);
    in_used += in;
    out_used += out;
  }
  channel::Client client(rt::state().channel);
  auto r = client.call(channel::Op::kForward, request, sizeof h + in_used, reply, sizeof reply);
  if (r.status != 0 || r.length < sizeof(ForwardReply)) {
    rt::diag().text(shape.name).text(": the origin did not answer (status ").num(r.status).text(")").emit();
    return -EIO;
  }
  const auto& rep = *reinterpret_cast<const ForwardReply*>(reply);
  std::size_t offset = sizeof rep;
  for (int i = 0; i < 6; ++i) {
    const std::size_t n = rep.out_bytes[i];
    if (!n) continue;
    if (offset + n > r.length || n > h.out_bytes[i]) return -EIO;
    if (!copy_to_program(reinterpret_cast<void*>(a[i]), reply + offset, n)) return -EFAULT;
    offset += n;
  }
  return rep.result;
}

long forward_simple(long nr, const char* name) {
  CallShape shape{nr, name, {}};
  long none[6] = {};
  return forward(nr, shape, none);
}

// write and pwrite64 of more than fits in one message: in pieces, in order,
// so the caller sees the whole count as from one call.
long write_in_pieces(long nr, const CallShape& shape, const long* a) {
  long done = 0;
  auto left = static_cast<std::size_t>(a[2]);
  do {
    long b[6] = {a[0], a[1] + done, static_cast<long>(left < kMaxForwardData ? left : kMaxForwardData),
                 a[3] + (nr == SYS_pwrite64 ? done : 0), a[4], a[5]};
    long r = forward(nr, shape, b);
    if (r < 0) return done ? done : r;
    done += r;
    left -= static_cast<std::size_t>(r);
    if (r < b[2]) break;
  } while (left);
  return done;
}

// readv/writev/preadv/pwritev: gathered into one buffer and forwarded as
// one read/write/pread64/pwrite64 (a writev stays one write on the origin,
// so lines from different threads do not interleave), scattered back.
// More than one message holds goes in further pieces, as write() does.
long vectored(long nr, const long* a) {
  const bool writing = nr == SYS_writev || nr == SYS_pwritev;
  const bool positioned = nr == SYS_preadv || nr == SYS_pwritev;
  const long count = a[2];
  if (count < 0 || count > 1024) return -EINVAL;
  struct iovec iov[1024];
  if (!copy_from_program(iov, reinterpret_cast<const struct iovec*>(a[1]), count * sizeof(struct iovec)))
    return -EFAULT;
  const long plain = writing ? (positioned ? SYS_pwrite64 : SYS_write) : (positioned ? SYS_pread64 : SYS_read);
  const CallShape& shape = *forwarded_shape(plain);
  alignas(16) unsigned char buffer[kMaxForwardData];
  long done = 0, at = 0;
  std::size_t at_offset = 0;  // position inside iov[at]
  while (at < count) {
    // The next piece: as many of the remaining bytes as one message holds.
    std::size_t piece = 0;
    for (long i = at, off = static_cast<long>(at_offset); i < count && piece < kMaxForwardData; ++i, off = 0) {
      std::size_t take = iov[i].iov_len - static_cast<std::size_t>(off);
      if (take > kMaxForwardData - piece) take = kMaxForwardData - piece;
      if (writing && !copy_from_program(buffer + piece, static_cast<char*>(iov[i].iov_base) + off, take))
        return done ? done : -EFAULT;
      piece += take;
    }
    long b[6] = {a[0], sys::arg(buffer), static_cast<long>(piece), a[3] + done, 0, 0};
    const long r = forward(plain, shape, b);
    if (r < 0) return done ? done : r;
    // Scatter what was read, and move along the vector by r bytes.
    std::size_t left = static_cast<std::size_t>(r), from = 0;
    while (left && at < count) {
      std::size_t take = iov[at].iov_len - at_offset;
      if (take > left) take = left;
      if (!writing && !copy_to_program(static_cast<char*>(iov[at].iov_base) + at_offset, buffer + from, take))
        return done ? done : -EFAULT;
      from += take;
      left -= take;
      at_offset += take;
      if (at_offset == iov[at].iov_len) {
        ++at;
        at_offset = 0;
      }
    }
    done += r;
    while (at < count && iov[at].iov_len == 0) ++at;
    if (static_cast<std::size_t>(r) < piece || !writing || piece == 0) break;  // short, a read, or nothing left
  }
  return done;
}

// mmap of a file (the descriptor is the origin's): a private copy, read
// through the shim. Writable shared mappings cannot be kept in step with
// the origin's file, so they are refused.
long map_file_copy(const long* a) {
  const auto length = static_cast<std::size_t>(a[1]);
  const long prot = a[2], flags = a[3];
  if ((flags & MAP_SHARED) && (prot & PROT_WRITE)) return refuse("a writable shared mapping of a file", -ENODEV);
  const long anon_flags = (flags & ~(MAP_SHARED | MAP_SHARED_VALIDATE)) | MAP_PRIVATE | MAP_ANONYMOUS;
  const long at = sys::call(SYS_mmap, a[0], a[1], PROT_READ | PROT_WRITE, anon_flags, -1, 0);
  if (at < 0 && at > -4096) return at;
  const CallShape& pread = *forwarded_shape(SYS_pread64);
  for (std::size_t done = 0; done < length;) {
    std::size_t piece = length - done < kMaxForwardData ? length - done : kMaxForwardData;
    long b[6] = {a[4], at + static_cast<long>(done), static_cast<long>(piece), a[5] + static_cast<long>(done), 0, 0};
    long r = forward(SYS_pread64, pread, b);
    if (r < 0) {
      sys::call(SYS_munmap, at, a[1]);
      return r;
    }
    if (r == 0) break;  // past the end of the file: zeros, as a mapping shows
    done += static_cast<std::size_t>(r);
  }
  if (prot != (PROT_READ | PROT_WRITE)) sys::call(SYS_mprotect, at, a[1], prot);
  return at;
}

long origin_pid() {
  static std::atomic<long> pid{0};
  long p = pid.load(std::memory_order_relaxed);
  if (p > 0) return p;
  p = forward_simple(SYS_getpid, "getpid");
  if (p > 0) pid.store(p, std::memory_order_relaxed);
  return p;
}

[[noreturn]] void forward_exit(long status) {
  // The end of the process: the shared file mappings reach their files as
  // this thread sees them (the origin, which does not, skips its own
  // write-back for an exit asked from here).
  write_back_all();
  CallShape shape{kExitRequest, "exit", {}};
  long a[6] = {status, 0, 0, 0, 0, 0};
  forward(kExitRequest, shape, a);  // the origin ends the job; we are killed with it
  for (;;) sys::call(SYS_pause);
}

// The masks live in the signal frame: the kernel restores the frame's mask
// when the handler returns, so a mask set here must be set there.
long sigprocmask_in_frame(const long* a, ucontext_t* uc) {
  if (a[3] != 8) return -EINVAL;
  auto* mask = reinterpret_cast<std::uint64_t*>(&uc->uc_sigmask);
  const std::uint64_t old = *mask;
  if (a[1]) {
    std::uint64_t set;
    if (!copy_from_program(&set, reinterpret_cast<const void*>(a[1]), sizeof set)) return -EFAULT;
    std::uint64_t next;
    switch (a[0]) {
      case SIG_BLOCK: next = old | set; break;
      case SIG_UNBLOCK: next = old & ~set; break;
      case SIG_SETMASK: next = set; break;
      default: return -EINVAL;
    }
    *mask = next & ~kNeverBlocked;
  }
  if (a[2] && !copy_to_program(reinterpret_cast<void*>(a[2]), &old, sizeof old)) return -EFAULT;
  return 0;
}

// A handler that the libc installed itself (not through sigaction, so with
// the libc's restorer) returned: its rt_sigreturn was trapped. Let it run:
// this thread's calls are not trapped from now on (and the user is told).
long sigreturn_outside(ucontext_t* uc) {
  static std::atomic<bool> told{false};
  if (g_forwarding && !told.exchange(true))
    rt::diag().text("a signal handler installed by the libc itself returned on node ")
        .num(rt::state().node_id)
        .text("; that thread's process-level calls now run on this node").emit();
  t_selector = kAllow;
  uc->uc_mcontext.gregs[REG_RIP] -= 2;  // the syscall instruction again
  return SYS_rt_sigreturn;
}

long dispatch(long nr, const long* a, ucontext_t* uc) {
  switch (nr) {
    case SYS_rt_sigreturn:
      return sigreturn_outside(uc);
    case SYS_rt_sigprocmask:
      return sigprocmask_in_frame(a, uc);
    case SYS_rt_sigaction:
      if (a[0] == SIGSYS && a[1]) return refuse("a SIGSYS handler", -EINVAL);
      break;
    case SYS_getpid:
      return origin_pid();
    case SYS_tgkill:
      // A thread of this process, named by the pid getpid() gave (glibc's
      // raise and pthread_kill): the thread is here, in this node's process.
      if (a[0] == origin_pid()) return sys::call(SYS_tgkill, sys::call(SYS_getpid), a[1], a[2]);
      break;
    case SYS_readv:
    case SYS_writev:
    case SYS_preadv:
    case SYS_pwritev:
      return vectored(nr, a);
    case SYS_write:
    case SYS_pwrite64:
      return write_in_pieces(nr, *forwarded_shape(nr), a);
    case SYS_ioctl:
      if (const CallShape* s = ioctl_shape(static_cast<unsigned long>(a[1]))) return forward(nr, *s, a);
      return refuse("this ioctl request", -ENOTTY);
    case SYS_fcntl:
      if (const CallShape* s = fcntl_shape(static_cast<int>(a[1]))) return forward(nr, *s, a);
      return refuse("this fcntl command", -EINVAL);
    case SYS_exit_group:
      forward_exit(a[0]);
    case SYS_mmap:
      if (!(a[3] & MAP_ANONYMOUS) && static_cast<int>(a[4]) >= 0) return map_file_copy(a);
      break;
    case SYS_fork:
    case SYS_vfork:
    case SYS_clone3:
      return refuse("creating a process", -ENOSYS);
    case SYS_clone:
      return refuse(a[0] & kCloneThread ? "clone() of a thread (use pthread_create)" : "creating a process",
                    -ENOSYS);
    case SYS_execve:
    case SYS_execveat:
      return refuse("exec", -ENOSYS);
    default:
      if (const CallShape* s = forwarded_shape(nr)) return forward(nr, *s, a);
      break;
  }
  return call_with_private_buffers(nr, a);
}

// A call trapped inside a TrappedCalls scope, where calls are not forwarded.
long dispatch_here(long nr, const long* a, ucontext_t* uc) {
  switch (nr) {
    case SYS_rt_sigreturn:
      return sigreturn_outside(uc);
    case SYS_rt_sigprocmask:
      return sigprocmask_in_frame(a, uc);
    default:
      return call_with_private_buffers(nr, a);
  }
}

void switch_dispatch_on() {
  t_selector = kBlock;
  const auto start = reinterpret_cast<std::uintptr_t>(__start_gpt_syscall_text);
  const auto length = reinterpret_cast<std::uintptr_t>(__stop_gpt_syscall_text) - start;
  long r = sys::call(SYS_prctl, kPrSetSyscallUserDispatch, kDispatchOn, static_cast<long>(start),
                     static_cast<long>(length), sys::arg(&t_selector));
  if (r != 0)
    rt::die("syscall user dispatch is not available (Linux 5.11 or later is needed to run "
            "threads on nodes other than the origin)", 127);
}

void on_sigsys(int, siginfo_t*, void* context) {
  auto* uc = static_cast<ucontext_t*>(context);
  greg_t* g = uc->uc_mcontext.gregs;
  long a[6] = {g[REG_RDI], g[REG_RSI], g[REG_RDX], g[REG_R10], g[REG_R8], g[REG_R9]};
  // A dlopen placing its library at the job's address (library_placement.h).
  long placed_result;
  if (g[REG_RAX] == SYS_mmap && place_library_mapping(a, &placed_result)) {
    g[REG_RAX] = placed_result;
    return;
  }
  g[REG_RAX] = g_forwarding ? dispatch(g[REG_RAX], a, uc) : dispatch_here(g[REG_RAX], a, uc);
}

}  // namespace

bool forwarding() { return g_forwarding; }

long call_as_origin(long nr, long a0, long a1, long a2, long a3) {
  if (!g_forwarding) return sys::call(nr, a0, a1, a2, a3);
  const long a[6] = {a0, a1, a2, a3, 0, 0};
  const CallShape* shape = nr == SYS_fcntl ? fcntl_shape(static_cast<int>(a1)) : forwarded_shape(nr);
  if (!shape) return -ENOSYS;
  return forward(nr, *shape, a);
}

long map_file_copy_here(const long* a) { return map_file_copy(a); }

long ask_origin(std::uint32_t request, long a0) {
  const CallShape shape{request, "a request to the origin", {}};
  const long a[6] = {a0, 0, 0, 0, 0, 0};
  return forward(request, shape, a);
}

void init() {
  galloc::set_unhandled_fault_hook(escape_from_guarded_copy);
  const auto& s = rt::state();
  g_forwarding = s.channel && s.node_id != 0 && !s.channel->header.spmd;
  g_trapping_here = !g_forwarding && s.channel && s.channel->header.node_count > 1;
  if (!g_forwarding && !g_trapping_here) return;
  install_raw(SIGSYS, reinterpret_cast<void*>(on_sigsys), SA_SIGINFO | SA_ONSTACK, 0);
}

void enter_program() {
  if (g_forwarding) switch_dispatch_on();
}

void leave_program() {
  if (!g_forwarding) return;
  sys::call(SYS_prctl, kPrSetSyscallUserDispatch, kDispatchOff, 0, 0, 0);
}

bool trapping_here() { return g_trapping_here; }

bool inside_trapped_calls() { return t_trapped_depth > 0; }

TrappedCalls::TrappedCalls() {
  if (!g_trapping_here) return;
  on_ = true;
  if (t_trapped_depth++ == 0) switch_dispatch_on();
}

TrappedCalls::~TrappedCalls() {
  if (on_ && --t_trapped_depth == 0) sys::call(SYS_prctl, kPrSetSyscallUserDispatch, kDispatchOff, 0, 0, 0);
}

void use_our_restorer(int sig, const struct sigaction& act) {
  if (g_trapping_here && sig == SIGSYS) {
    // The program's own SIGSYS handler would receive the calls TrappedCalls
    // scopes trap: gpthread's stays (signals.cc installed the program's).
    rt::diag().text("a SIGSYS handler cannot be installed in a job of several nodes: gpthread's stays").emit();
    install_raw(SIGSYS, reinterpret_cast<void*>(on_sigsys), SA_SIGINFO | SA_ONSTACK, 0);
    return;
  }
  if ((!g_forwarding && !g_trapping_here) || act.sa_handler == SIG_DFL || act.sa_handler == SIG_IGN) return;
  std::uint64_t mask;
  std::memcpy(&mask, &act.sa_mask, sizeof mask);
  install_raw(sig, reinterpret_cast<void*>(act.sa_handler), static_cast<unsigned long>(act.sa_flags),
              mask & ~kNeverBlocked);
}

}  // namespace gpt::shim
