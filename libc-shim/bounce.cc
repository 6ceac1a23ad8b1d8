#include "bounce.h"

#include <errno.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>

#include <cstdint>
#include <cstring>

#include "call_table.h"
#include "cancel_point.h"
#include "global_space.h"
#include "gpt/raw_syscall.h"
#include "private_buffer.h"
#include "program_memory.h"

namespace gpt::shim {
namespace {

// Set by a CancellableBuffers scope: the call is a cancellation point.
thread_local const std::uint32_t* t_cancel_word __attribute__((tls_model("initial-exec")));

// The system call itself (not the copies around it).
long kernel(long nr, long a0 = 0, long a1 = 0, long a2 = 0, long a3 = 0, long a4 = 0, long a5 = 0) {
  if (t_cancel_word) return gpt_cancellable_syscall(t_cancel_word, nr, a0, a1, a2, a3, a4, a5);
  return sys::call(nr, a0, a1, a2, a3, a4, a5);
}

constexpr std::size_t kMaxVector = 1024;  // the kernel's UIO_MAXIOV
constexpr std::size_t kMaxPath = 4096;

bool global_range(const void* p, std::size_t n) {
  const auto& s = galloc::space();
  if (!p || n == 0 || !s.coherent) return false;
  const auto first = reinterpret_cast<std::uintptr_t>(p);
  // Wholly inside: a buffer that runs out of the space is left to the
  // kernel, which reports it as it would for any process.
  return s.contains(p) && s.contains(reinterpret_cast<const void*>(first + n - 1));
}

// What comes back from a region after the call.
enum class Back : std::uint8_t {
  kNothing,
  kResultBytes,  // as many bytes as the (non-negative) result says
  kResultItems,  // as many items of `item` bytes as the result says
  kAll,          // all of it, when the call succeeds
  kAlways,       // all of it, whatever the result (a sleep's time left on EINTR)
};

struct Region {
  char* program;
  std::size_t in;   // bytes copied in before the call
  std::size_t room; // private bytes
  Back back;
  std::size_t item = 1;
  std::size_t offset = 0;
};

// The private copies of one call's global buffers.
class Plan {
 public:
  explicit Plan(const long* a) { std::memcpy(args_, a, sizeof args_); }

  // Replaces argument `arg` by a private copy of [p, p + room) if that lies
  // in the global space.
  void add(int arg, const void* p, std::size_t in, std::size_t room, Back back, std::size_t item = 1) {
    if (!global_range(p, room > in ? room : in)) return;
    regions_[count_] = {static_cast<char*>(const_cast<void*>(p)), in, room > in ? room : in, back, item};
    arg_of_[count_++] = arg;
  }
  [[nodiscard]] bool empty() const { return count_ == 0; }
  [[nodiscard]] long* args() { return args_; }

  // Copies in, runs, copies back.
  [[nodiscard]] long run(long nr) {
    std::size_t total = 0;
    for (int i = 0; i < count_; ++i) {
      regions_[i].offset = total;
      total += (regions_[i].room + 15) & ~std::size_t{15};
    }
    BounceBuffer bounce(total);
    unsigned char* base = bounce.data();
    if (!base) return -ENOMEM;
    for (int i = 0; i < count_; ++i) {
      Region& r = regions_[i];
      if (r.in && !copy_from_program(base + r.offset, r.program, r.in)) return -EFAULT;
      args_[arg_of_[i]] = sys::arg(base + r.offset);
    }
    const long result = kernel(nr, args_[0], args_[1], args_[2], args_[3], args_[4], args_[5]);
    for (int i = 0; i < count_; ++i) {
      const Region& r = regions_[i];
      if (result < 0 && r.back != Back::kAlways) continue;
      std::size_t n = 0;
      if (r.back == Back::kAll || r.back == Back::kAlways) n = r.room;
      if (r.back == Back::kResultBytes || r.back == Back::kResultItems) {
        const std::size_t said = static_cast<std::size_t>(result) * (r.back == Back::kResultItems ? r.item : 1);
        n = said < r.room ? said : r.room;
      }
      if (n && !copy_to_program(r.program, base + r.offset, n)) return -EFAULT;
    }
    return result;
  }

 private:
  long args_[6];
  Region regions_[6];
  int arg_of_[6] = {};
  int count_ = 0;
};

// Calls the forwarding table does not list (they are local everywhere) but
// that take buffers of a known shape.
constexpr ArgShape V{};
constexpr ArgShape in(std::uint16_t length_arg) { return {Arg::kBufIn, length_arg}; }
constexpr ArgShape out(std::uint16_t length_arg) { return {Arg::kBufOut, length_arg}; }
constexpr ArgShape fixed_in(std::uint16_t bytes) { return {Arg::kFixedIn, bytes}; }
constexpr ArgShape fixed_out(std::uint16_t bytes) { return {Arg::kFixedOut, bytes}; }
constexpr std::uint16_t kTimespec = 16, kRusage = 144, kEpollEvent = 12, kSiginfo = 128;

constexpr CallShape kLocal[] = {
    {SYS_sendto, "sendto", {V, in(2), V, V, in(5), V}},
    {SYS_nanosleep, "nanosleep", {fixed_in(kTimespec), fixed_out(kTimespec)}},
    {SYS_clock_nanosleep, "clock_nanosleep", {V, V, fixed_in(kTimespec), fixed_out(kTimespec)}},
    {SYS_getrusage, "getrusage", {V, fixed_out(kRusage)}},
    {SYS_epoll_ctl, "epoll_ctl", {V, V, V, fixed_in(kEpollEvent)}},
    {SYS_socketpair, "socketpair", {V, V, V, fixed_out(8)}},
    {SYS_getrandom, "getrandom", {out(1), V, V}},
    {SYS_bind, "bind", {V, in(2), V}},
    {SYS_connect, "connect", {V, in(2), V}},
    {SYS_setsockopt, "setsockopt", {V, V, V, in(4), V}},
    {SYS_wait4, "wait4", {V, fixed_out(4), V, fixed_out(kRusage)}},
    {SYS_waitid, "waitid", {V, V, fixed_out(kSiginfo), V, fixed_out(kRusage)}},
};

const CallShape* shape_of(long nr, const long* a) {
  for (const CallShape& c : kLocal)
    if (c.nr == nr) return &c;
  if (nr == SYS_ioctl) return ioctl_shape(static_cast<unsigned long>(a[1]));
  if (nr == SYS_fcntl) return fcntl_shape(static_cast<int>(a[1]));
  return forwarded_shape(nr);
}

long by_shape(long nr, const CallShape& shape, const long* a) {
  Plan plan(a);
  for (int i = 0; i < 6; ++i) {
    const ArgShape s = shape.args[i];
    const auto* p = reinterpret_cast<const char*>(a[i]);
    if (s.kind == Arg::kValue || !p) continue;
    switch (s.kind) {
      case Arg::kPath: {
        if (!global_range(p, 1)) break;
        const long n = program_strnlen(p, kMaxPath);
        if (n < 0) return -EFAULT;
        if (static_cast<std::size_t>(n) >= kMaxPath) return -ENAMETOOLONG;
        plan.add(i, p, static_cast<std::size_t>(n) + 1, 0, Back::kNothing);
        break;
      }
      case Arg::kBufIn:
        plan.add(i, p, static_cast<std::size_t>(a[s.size]), 0, Back::kNothing);
        break;
      case Arg::kBufOut:
        plan.add(i, p, 0, static_cast<std::size_t>(a[s.size]), Back::kResultBytes);
        break;
      case Arg::kFixedIn:
        plan.add(i, p, s.size, 0, Back::kNothing);
        break;
      case Arg::kFixedOut: {
        // Copied in as well: what the kernel leaves alone (a sleep's time
        // left when it was not interrupted) must stay as it was.
        const bool time_left = nr == SYS_nanosleep || nr == SYS_clock_nanosleep;
        plan.add(i, p, s.size, s.size, time_left ? Back::kAlways : Back::kAll);
        break;
      }
      case Arg::kFixedInOut:
        plan.add(i, p, s.size, s.size, Back::kAll);
        break;
      case Arg::kValue:
        break;
    }
  }
  if (plan.empty()) return kernel(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
  return plan.run(nr);
}

// A socket address the kernel fills: `address` with room *`length`, and
// the length itself, which goes in and comes back.
void add_address(Plan& plan, int address_arg, int length_arg, const long* a) {
  auto* length = reinterpret_cast<socklen_t*>(a[length_arg]);
  if (!length) return;
  socklen_t room = 0;
  if (!copy_from_program(&room, length, sizeof room)) return;  // the kernel says EFAULT
  plan.add(length_arg, length, sizeof room, sizeof room, Back::kAll);
  // Copied in as well: the kernel may fill less than the room, and the
  // rest must stay as it was.
  plan.add(address_arg, reinterpret_cast<void*>(a[address_arg]), room, room, Back::kAll);
}

long with_address(long nr, const long* a, int address_arg, int length_arg, int buffer_arg, int buffer_length_arg) {
  Plan plan(a);
  if (buffer_arg >= 0)
    plan.add(buffer_arg, reinterpret_cast<void*>(a[buffer_arg]), 0, static_cast<std::size_t>(a[buffer_length_arg]),
             Back::kResultBytes);
  add_address(plan, address_arg, length_arg, a);
  if (plan.empty()) return kernel(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
  return plan.run(nr);
}

// Gathers and scatters the data of an iovec array through one private
// buffer, so the kernel sees a single iovec.
class Vector {
 public:
  // False if the array cannot be read (the kernel would say EFAULT) or is
  // too long (EINVAL): then the call is left to the kernel.
  bool load(const struct iovec* program_iov, std::size_t count) {
    if (count > kMaxVector || !copy_from_program(iov_, program_iov, count * sizeof *iov_)) return false;
    count_ = count;
    global_ = global_range(program_iov, count * sizeof *iov_);
    for (std::size_t i = 0; i < count; ++i) {
      if (bytes_ + iov_[i].iov_len < bytes_) return false;
      bytes_ += iov_[i].iov_len;
      global_ = global_ || global_range(iov_[i].iov_base, iov_[i].iov_len);
    }
    return true;
  }
  [[nodiscard]] bool global() const { return global_; }
  [[nodiscard]] std::size_t bytes() const { return bytes_; }

  [[nodiscard]] bool gather(unsigned char* to) const {
    for (std::size_t i = 0; i < count_; ++i) {
      if (!copy_from_program(to, iov_[i].iov_base, iov_[i].iov_len)) return false;
      to += iov_[i].iov_len;
    }
    return true;
  }
  [[nodiscard]] bool scatter(const unsigned char* from, std::size_t n) const {
    for (std::size_t i = 0; i < count_ && n; ++i) {
      const std::size_t take = iov_[i].iov_len < n ? iov_[i].iov_len : n;
      if (!copy_to_program(iov_[i].iov_base, from, take)) return false;
      from += take;
      n -= take;
    }
    return true;
  }

 private:
  struct iovec iov_[kMaxVector];
  std::size_t count_ = 0, bytes_ = 0;
  bool global_ = false;
};

// readv, writev, preadv, pwritev, preadv2, pwritev2: (fd, iov, count, ...).
long vectored(long nr, const long* a, bool writing) {
  Vector v;
  if (!v.load(reinterpret_cast<const struct iovec*>(a[1]), static_cast<std::size_t>(a[2])) || !v.global())
    return kernel(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
  // The iovec first, then the data.
  constexpr std::size_t kDataAt = 16;
  BounceBuffer bounce(kDataAt + v.bytes());
  unsigned char* base = bounce.data();
  if (!base) return -ENOMEM;
  unsigned char* data = base + kDataAt;
  auto* one = reinterpret_cast<struct iovec*>(base);
  one->iov_base = data;
  one->iov_len = v.bytes();
  if (writing && !v.gather(data)) return -EFAULT;
  const long r = kernel(nr, a[0], sys::arg(one), 1, a[3], a[4], a[5]);
  if (r > 0 && !writing && !v.scatter(data, static_cast<std::size_t>(r))) return -EFAULT;
  return r;
}

// sendmsg and recvmsg: the header, its iovecs' data, the address and the
// control data all go through one private buffer.
long message(long nr, const long* a, bool sending) {
  auto* program_header = reinterpret_cast<struct msghdr*>(a[1]);
  struct msghdr h;
  Vector v;
  if (!copy_from_program(&h, program_header, sizeof h) || !v.load(h.msg_iov, h.msg_iovlen))
    return kernel(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
  const bool global = v.global() || global_range(program_header, sizeof h) ||
                      global_range(h.msg_name, h.msg_namelen) || global_range(h.msg_control, h.msg_controllen);
  if (!global) return kernel(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
  auto align = [](std::size_t n) { return (n + 15) & ~std::size_t{15}; };
  const std::size_t name_at = align(v.bytes()), control_at = name_at + align(h.msg_namelen),
                    header_at = control_at + align(h.msg_controllen), iov_at = header_at + align(sizeof h);
  BounceBuffer bounce(iov_at + sizeof(struct iovec));
  unsigned char* base = bounce.data();
  if (!base) return -ENOMEM;
  struct msghdr mine = h;
  struct iovec single = {base, v.bytes()};
  std::memcpy(base + iov_at, &single, sizeof single);
  mine.msg_iov = reinterpret_cast<struct iovec*>(base + iov_at);
  mine.msg_iovlen = 1;
  if (h.msg_name) mine.msg_name = base + name_at;
  if (h.msg_control) mine.msg_control = base + control_at;
  if (sending) {
    if (!v.gather(base)) return -EFAULT;
    if (h.msg_name && !copy_from_program(mine.msg_name, h.msg_name, h.msg_namelen)) return -EFAULT;
    if (h.msg_control && !copy_from_program(mine.msg_control, h.msg_control, h.msg_controllen)) return -EFAULT;
  }
  std::memcpy(base + header_at, &mine, sizeof mine);
  auto* kernel_header = reinterpret_cast<struct msghdr*>(base + header_at);
  const long r = kernel(nr, a[0], sys::arg(kernel_header), a[2], a[3], a[4], a[5]);
  if (r < 0 || sending) return r;
  std::memcpy(&mine, kernel_header, sizeof mine);
  if (!v.scatter(base, static_cast<std::size_t>(r))) return -EFAULT;
  if (h.msg_name) {
    const std::size_t n = mine.msg_namelen < h.msg_namelen ? mine.msg_namelen : h.msg_namelen;
    if (!copy_to_program(h.msg_name, mine.msg_name, n)) return -EFAULT;
  }
  if (h.msg_control && !copy_to_program(h.msg_control, mine.msg_control, mine.msg_controllen)) return -EFAULT;
  // What the kernel writes back in the header: the lengths and the flags.
  h.msg_namelen = mine.msg_namelen;
  h.msg_controllen = mine.msg_controllen;
  h.msg_flags = mine.msg_flags;
  if (!copy_to_program(program_header, &h, sizeof h)) return -EFAULT;
  return r;
}

// An ioctl request the table does not list: its argument's size and
// direction are in the request number for _IOC-style requests (the
// kernel's asm-generic encoding, which x86-64 uses: 2 direction bits, 14
// size bits); older requests give no size, so their argument is passed on.
long ioctl_by_number(const long* a) {
  constexpr unsigned kWrite = 1, kRead = 2;  // read: the kernel fills it
  const auto request = static_cast<unsigned long>(a[1]);
  const auto direction = static_cast<unsigned>((request >> 30) & 3);
  const auto size = static_cast<std::size_t>((request >> 16) & 0x3fff);
  Plan plan(a);
  if (size) {
    const std::size_t in = direction & kWrite ? size : 0, room = direction & kRead ? size : 0;
    plan.add(2, reinterpret_cast<void*>(a[2]), in, room, room ? Back::kAll : Back::kNothing);
  }
  return plan.empty() ? kernel(SYS_ioctl, a[0], a[1], a[2]) : plan.run(SYS_ioctl);
}

// A large pread into the global space, in pieces through a buffer small
// enough to stay in the cache: the second copy then costs little. pread
// moves no file offset, so pieces read what one call would (a regular
// file's read is not atomic against writers either); a short piece ends
// it, as a short call would.
constexpr std::size_t kPiece = 128 * 1024;

long pread_in_pieces(const long* a) {
  auto* to = reinterpret_cast<char*>(a[1]);
  const auto length = static_cast<std::size_t>(a[2]);
  BounceBuffer bounce(kPiece);
  unsigned char* piece = bounce.data();
  if (!piece) return -ENOMEM;
  std::size_t done = 0;
  while (done < length) {
    const std::size_t want = length - done < kPiece ? length - done : kPiece;
    const long r = kernel(SYS_pread64, a[0], sys::arg(piece), static_cast<long>(want), a[3] + static_cast<long>(done));
    if (r < 0) return done ? static_cast<long>(done) : r;
    if (r > 0 && !copy_to_program(to + done, piece, static_cast<std::size_t>(r))) return done ? static_cast<long>(done) : -EFAULT;
    done += static_cast<std::size_t>(r);
    if (static_cast<std::size_t>(r) < want) break;
  }
  return static_cast<long>(done);
}

}  // namespace

CancellableBuffers::CancellableBuffers(const std::uint32_t* word) { t_cancel_word = word; }
CancellableBuffers::~CancellableBuffers() { t_cancel_word = nullptr; }

bool buffers_can_move() { return galloc::space().tracks_writes(); }

long call_with_private_buffers(long nr, const long* a) {
  if (!buffers_can_move()) return kernel(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
  switch (nr) {
    case SYS_pread64:
      if (static_cast<std::size_t>(a[2]) > kPiece && a[3] >= 0 &&
          global_range(reinterpret_cast<void*>(a[1]), static_cast<std::size_t>(a[2])))
        return pread_in_pieces(a);
      break;
    case SYS_readv:
    case SYS_preadv:
    case SYS_preadv2:
      return vectored(nr, a, false);
    case SYS_writev:
    case SYS_pwritev:
    case SYS_pwritev2:
      return vectored(nr, a, true);
    case SYS_sendmsg:
      return message(nr, a, true);
    case SYS_recvmsg:
      return message(nr, a, false);
    case SYS_recvfrom:  // (fd, buffer, length, flags, address, address length)
      return with_address(nr, a, 4, 5, 1, 2);
    case SYS_accept:
    case SYS_accept4:
    case SYS_getsockname:
    case SYS_getpeername:  // (fd, address, address length)
      return with_address(nr, a, 1, 2, -1, -1);
    case SYS_getsockopt:  // (fd, level, name, value, value length)
      return with_address(nr, a, 3, 4, -1, -1);
    case SYS_poll: {
      Plan plan(a);
      const std::size_t bytes = static_cast<std::size_t>(a[1]) * sizeof(struct pollfd);
      plan.add(0, reinterpret_cast<void*>(a[0]), bytes, bytes, Back::kAll);
      return plan.empty() ? kernel(nr, a[0], a[1], a[2]) : plan.run(nr);
    }
    case SYS_epoll_wait:
    case SYS_epoll_pwait:
    case SYS_epoll_pwait2: {
      // (fd, events, count, timeout, signal mask, mask size): pwait2's
      // timeout is a timespec.
      Plan plan(a);
      const std::size_t room = a[2] > 0 ? static_cast<std::size_t>(a[2]) * sizeof(struct epoll_event) : 0;
      plan.add(1, reinterpret_cast<void*>(a[1]), 0, room, Back::kResultItems, sizeof(struct epoll_event));
      if (nr == SYS_epoll_pwait2) plan.add(3, reinterpret_cast<void*>(a[3]), kTimespec, 0, Back::kNothing);
      if (nr != SYS_epoll_wait) plan.add(4, reinterpret_cast<void*>(a[4]), 8, 0, Back::kNothing);
      return plan.empty() ? kernel(nr, a[0], a[1], a[2], a[3], a[4], a[5]) : plan.run(nr);
    }
    case SYS_ppoll: {
      // The pollfd array (a[1] of them) goes in and comes back; the rest
      // by the table.
      Plan plan(a);
      const std::size_t bytes = static_cast<std::size_t>(a[1]) * sizeof(struct pollfd);
      plan.add(0, reinterpret_cast<void*>(a[0]), bytes, bytes, Back::kAll);
      plan.add(2, reinterpret_cast<void*>(a[2]), kTimespec, kTimespec, Back::kAll);
      plan.add(3, reinterpret_cast<void*>(a[3]), 8, 0, Back::kNothing);
      return plan.empty() ? kernel(nr, a[0], a[1], a[2], a[3], a[4]) : plan.run(nr);
    }
    case SYS_pselect6: {
      // As select, with a timespec, and a {mask pointer, size} pair whose
      // mask stays where it is (8 bytes the kernel reads: copied too).
      Plan plan(a);
      const std::size_t sets = a[0] > 0 ? (static_cast<std::size_t>(a[0]) + 63) / 64 * 8 : 0;
      for (int i = 1; i <= 3; ++i) plan.add(i, reinterpret_cast<void*>(a[i]), sets, sets, Back::kAll);
      plan.add(4, reinterpret_cast<void*>(a[4]), kTimespec, kTimespec, Back::kAll);
      long mask_pair[2] = {0, 0};
      if (a[5] && global_range(reinterpret_cast<void*>(a[5]), sizeof mask_pair)) {
        if (!copy_from_program(mask_pair, reinterpret_cast<void*>(a[5]), sizeof mask_pair)) return -EFAULT;
        std::uint64_t mask = 0;
        if (mask_pair[0] && !copy_from_program(&mask, reinterpret_cast<void*>(mask_pair[0]), sizeof mask))
          return -EFAULT;
        // The pair and the mask on this stack, outside the space.
        struct {
          long pair[2];
          std::uint64_t mask;
        } here = {{0, mask_pair[1]}, mask};
        here.pair[0] = mask_pair[0] ? sys::arg(&here.mask) : 0;
        plan.args()[5] = sys::arg(here.pair);
        return plan.run(nr);
      }
      return plan.empty() ? kernel(nr, a[0], a[1], a[2], a[3], a[4], a[5]) : plan.run(nr);
    }
    case SYS_ioctl:
      if (!ioctl_shape(static_cast<unsigned long>(a[1]))) return ioctl_by_number(a);
      break;
    case SYS_select: {
      Plan plan(a);
      const std::size_t sets = a[0] > 0 ? (static_cast<std::size_t>(a[0]) + 63) / 64 * 8 : 0;
      for (int i = 1; i <= 3; ++i) plan.add(i, reinterpret_cast<void*>(a[i]), sets, sets, Back::kAll);
      plan.add(4, reinterpret_cast<void*>(a[4]), kTimespec, kTimespec, Back::kAll);
      return plan.empty() ? kernel(nr, a[0], a[1], a[2], a[3], a[4]) : plan.run(nr);
    }
    default:
      break;
  }
  if (const CallShape* shape = shape_of(nr, a)) return by_shape(nr, *shape, a);
  return kernel(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
}

}  // namespace gpt::shim
