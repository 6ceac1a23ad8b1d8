#include "call_table.h"

#include <sys/syscall.h>

namespace gpt::shim {
namespace {

constexpr ArgShape V{};
constexpr ArgShape P{Arg::kPath, 0};
constexpr ArgShape in(std::uint16_t length_arg) { return {Arg::kBufIn, length_arg}; }
constexpr ArgShape out(std::uint16_t length_arg) { return {Arg::kBufOut, length_arg}; }
constexpr ArgShape fixed_in(std::uint16_t bytes) { return {Arg::kFixedIn, bytes}; }
constexpr ArgShape fixed_out(std::uint16_t bytes) { return {Arg::kFixedOut, bytes}; }
constexpr ArgShape fixed_inout(std::uint16_t bytes) { return {Arg::kFixedInOut, bytes}; }

// The kernel's sizes on x86-64.
constexpr std::uint16_t kRusage = 144, kSiginfo = 128;
constexpr std::uint16_t kStat = 144, kStatx = 256, kStatfs = 120, kTimes = 32, kFlock = 32;

constexpr CallShape kForwarded[] = {
    {SYS_read, "read", {V, out(2), V}},
    {SYS_write, "write", {V, in(2), V}},
    {SYS_open, "open", {P, V, V}},
    {SYS_close, "close", {V}},
    {SYS_stat, "stat", {P, fixed_out(kStat)}},
    {SYS_fstat, "fstat", {V, fixed_out(kStat)}},
    {SYS_lstat, "lstat", {P, fixed_out(kStat)}},
    {SYS_lseek, "lseek", {V, V, V}},
    {SYS_pread64, "pread64", {V, out(2), V, V}},
    {SYS_pwrite64, "pwrite64", {V, in(2), V, V}},
    {SYS_access, "access", {P, V}},
    {SYS_pipe, "pipe", {fixed_out(8)}},
    {SYS_dup, "dup", {V}},
    {SYS_dup2, "dup2", {V, V}},
    {SYS_sendfile, "sendfile", {V, V, fixed_inout(8), V}},
    {SYS_kill, "kill", {V, V}},
    // sigqueue: to the origin's process, as kill (its siginfo says who sent it).
    {SYS_rt_sigqueueinfo, "rt_sigqueueinfo", {V, V, fixed_in(kSiginfo)}},
    {SYS_flock, "flock", {V, V}},
    {SYS_fsync, "fsync", {V}},
    {SYS_fdatasync, "fdatasync", {V}},
    {SYS_truncate, "truncate", {P, V}},
    {SYS_ftruncate, "ftruncate", {V, V}},
    {SYS_getdents, "getdents", {V, out(2), V}},
    {SYS_getcwd, "getcwd", {out(1), V}},
    {SYS_chdir, "chdir", {P}},
    {SYS_fchdir, "fchdir", {V}},
    {SYS_rename, "rename", {P, P}},
    {SYS_mkdir, "mkdir", {P, V}},
    {SYS_rmdir, "rmdir", {P}},
    {SYS_creat, "creat", {P, V}},
    {SYS_link, "link", {P, P}},
    {SYS_unlink, "unlink", {P}},
    {SYS_symlink, "symlink", {P, P}},
    {SYS_readlink, "readlink", {P, out(2), V}},
    {SYS_chmod, "chmod", {P, V}},
    {SYS_fchmod, "fchmod", {V, V}},
    {SYS_chown, "chown", {P, V, V}},
    {SYS_fchown, "fchown", {V, V, V}},
    {SYS_lchown, "lchown", {P, V, V}},
    {SYS_umask, "umask", {V}},
    {SYS_getppid, "getppid", {}},
    {SYS_statfs, "statfs", {P, fixed_out(kStatfs)}},
    {SYS_fstatfs, "fstatfs", {V, fixed_out(kStatfs)}},
    {SYS_utimes, "utimes", {P, fixed_in(kTimes)}},
    {SYS_getdents64, "getdents64", {V, out(2), V}},
    {SYS_openat, "openat", {V, P, V, V}},
    {SYS_mkdirat, "mkdirat", {V, P, V}},
    {SYS_mknodat, "mknodat", {V, P, V, V}},
    {SYS_fchownat, "fchownat", {V, P, V, V, V}},
    {SYS_newfstatat, "newfstatat", {V, P, fixed_out(kStat), V}},
    {SYS_unlinkat, "unlinkat", {V, P, V}},
    {SYS_renameat, "renameat", {V, P, V, P}},
    {SYS_linkat, "linkat", {V, P, V, P, V}},
    {SYS_symlinkat, "symlinkat", {P, V, P}},
    {SYS_readlinkat, "readlinkat", {V, P, out(3), V}},
    {SYS_fchmodat, "fchmodat", {V, P, V}},
    {SYS_faccessat, "faccessat", {V, P, V}},
    {SYS_utimensat, "utimensat", {V, P, fixed_in(kTimes), V}},
    {SYS_fallocate, "fallocate", {V, V, V, V}},
    {SYS_dup3, "dup3", {V, V, V}},
    {SYS_pipe2, "pipe2", {fixed_out(8), V}},
    {SYS_renameat2, "renameat2", {V, P, V, P, V}},
    {SYS_copy_file_range, "copy_file_range", {V, fixed_inout(8), V, fixed_inout(8), V, V}},
    {SYS_statx, "statx", {V, P, V, V, fixed_out(kStatx)}},
    {SYS_close_range, "close_range", {V, V, V}},
    // The process's children are the origin's (fork moves the caller there).
    {SYS_wait4, "wait4", {V, fixed_out(4), V, fixed_out(kRusage)}},
    {SYS_waitid, "waitid", {V, V, fixed_out(kSiginfo), V, fixed_out(kRusage)}},
    {SYS_faccessat2, "faccessat2", {V, P, V, V}},
};

// ioctl requests of terminals and files (x86-64 numbers).
constexpr CallShape kIoctls[] = {
    {0x5401, "ioctl TCGETS", {V, V, fixed_out(36)}},  // the kernel's struct termios
    {0x5402, "ioctl TCSETS", {V, V, fixed_in(36)}},
    {0x5403, "ioctl TCSETSW", {V, V, fixed_in(36)}},
    {0x5404, "ioctl TCSETSF", {V, V, fixed_in(36)}},
    {0x540F, "ioctl TIOCGPGRP", {V, V, fixed_out(4)}},
    {0x5413, "ioctl TIOCGWINSZ", {V, V, fixed_out(8)}},
    {0x5414, "ioctl TIOCSWINSZ", {V, V, fixed_in(8)}},
    {0x541B, "ioctl FIONREAD", {V, V, fixed_out(4)}},
    {0x5421, "ioctl FIONBIO", {V, V, fixed_in(4)}},
    {0x5450, "ioctl FIONCLEX", {V, V, V}},
    {0x5451, "ioctl FIOCLEX", {V, V, V}},
};

// fcntl commands: an int argument, or a struct flock.
constexpr CallShape kFcntls[] = {
    {0, "fcntl F_DUPFD", {V, V, V}},        {1, "fcntl F_GETFD", {V, V, V}},
    {2, "fcntl F_SETFD", {V, V, V}},        {3, "fcntl F_GETFL", {V, V, V}},
    {4, "fcntl F_SETFL", {V, V, V}},        {5, "fcntl F_GETLK", {V, V, fixed_inout(kFlock)}},
    {6, "fcntl F_SETLK", {V, V, fixed_in(kFlock)}},  {7, "fcntl F_SETLKW", {V, V, fixed_in(kFlock)}},
    {36, "fcntl F_OFD_GETLK", {V, V, fixed_inout(kFlock)}},
    {37, "fcntl F_OFD_SETLK", {V, V, fixed_in(kFlock)}},
    {38, "fcntl F_OFD_SETLKW", {V, V, fixed_in(kFlock)}},
    {1030, "fcntl F_DUPFD_CLOEXEC", {V, V, V}},
    {1031, "fcntl F_SETPIPE_SZ", {V, V, V}}, {1032, "fcntl F_GETPIPE_SZ", {V, V, V}},
};

template <std::size_t N>
const CallShape* find(const CallShape (&table)[N], long key) {
  for (const CallShape& c : table)
    if (c.nr == key) return &c;
  return nullptr;
}

}  // namespace

const CallShape* forwarded_shape(long nr) { return find(kForwarded, nr); }
const CallShape* ioctl_shape(unsigned long request) { return find(kIoctls, static_cast<long>(request & 0xffffffffu)); }
const CallShape* fcntl_shape(int command) { return find(kFcntls, command); }

}  // namespace gpt::shim
