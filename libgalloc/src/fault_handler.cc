// SIGSEGV: coherence faults inside the global heap are served here; any
// other fault is a real bug and gets the normal SIGSEGV after a report.
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include "backtrace.h"
#include "diag.h"
#include "global_space.h"
#include "gpt/channel_client.h"
#include "gpt/channel_ops.h"
#include "gpt/raw_syscall.h"
#include "library_faults.h"
#include "page_ops.h"
#include "runtime.h"
#include "signal_deferral.h"
#include "thread_state.h"

namespace gpt::galloc {

// The page after this thread's last read-fault batch (0: none yet).
thread_local std::uint64_t t_scan_next __attribute__((tls_model("initial-exec")));
// Pages per round trip in a scan: the most one fetch may ask for.
constexpr std::uint64_t kScanBatch = channel::kMaxPagesPerFetch;
// Sequential writes (docs/coherence.md, "Write-ahead"): the page after this
// thread's last write-fault run, and how many pages the sequential streak
// that ended there holds (0: none yet).
thread_local std::uint64_t t_write_next __attribute__((tls_model("initial-exec")));
thread_local std::uint64_t t_write_run __attribute__((tls_model("initial-exec")));

namespace {

UnhandledFaultHook g_unhandled_fault_hook = nullptr;

void count(std::atomic<std::uint64_t> channel::Header::*counter) {
  if (auto* ch = rt::state().channel) (ch->header.*counter).fetch_add(1, std::memory_order_relaxed);
}


void on_sigsegv(int, siginfo_t* si, void* context) {
  auto* uc = static_cast<ucontext_t*>(context);
  // x86-64 page-fault error code: bit 1 set for a write access.
  bool is_write = (uc->uc_mcontext.gregs[REG_ERR] & 2) != 0;
  auto addr = reinterpret_cast<std::uintptr_t>(si->si_addr);
  int saved_errno = errno;
  // Profile hook (gpt/profile.h): one predictable branch when off.
  auto* profiled = rt::state().channel;
  if (profiled && !gpt::profile::enabled(profiled->profile)) profiled = nullptr;
  const std::uint64_t started = profiled ? gpt::profile::ticks() : 0;
  bool handled;
  {
    rt::CriticalSection no_program_handlers;  // base/signal_deferral.h
    handled = space().contains(si->si_addr) && handle_fault(addr, is_write);
  }
  if (profiled && handled)
    channel::record_wait(*profiled,
                         static_cast<std::uint32_t>(is_write ? gpt::profile::Kind::kWriteFault : gpt::profile::Kind::kReadFault),
                         addr & ~std::uintptr_t{4095}, static_cast<std::uint64_t>(uc->uc_mcontext.gregs[REG_RIP]),
                         started);
  // A plug-in's address this node has not loaded yet (library_faults.h).
  if (!handled) handled = take_library_fault(si, context);
  errno = saved_errno;
  if (!handled && g_unhandled_fault_hook) g_unhandled_fault_hook();
  if (!handled && is_stack_guard(addr)) {
    rt::diag()
        .text("stack overflow in thread ")
        .num(syscall(SYS_gettid))
        .text(": it ran past the bottom of its stack (at ")
        .hex(addr)
        .text("); give it a larger one with pthread_attr_setstacksize")
        .emit();
  }
  if (!handled && rt::state().fork_child && space().contains(si->si_addr)) {
    rt::diag()
        .text("fork() child: the global memory at ")
        .hex(addr)
        .text(" was not on this node when the process forked (a child has a private copy of the pages "
              "its parent's node held, and leaves the job)")
        .emit();
  }
  if (!handled) {
    rt::diag()
        .text("segmentation fault (")
        .text(si->si_code == SEGV_ACCERR ? "access not permitted" : "address not mapped")
        .text(is_write ? ", write" : ", read")
        .text(") at address ")
        .hex(addr)
        .text(" in thread ")
        .num(syscall(SYS_gettid))
        .text("; backtrace:")
        .emit();
    rt::print_backtrace(context);
    signal(SIGSEGV, SIG_DFL);  // returning re-executes the access: real SIGSEGV
  }
}

// A write fault that continues this thread's last write run (the page right
// after it) twins and maps as many following pages as its streak holds so
// far, up to write_ahead_pages(): a thread writing an array in order then
// takes a fault and an mprotect each time the streak doubles, not per page.
// Only valid pages are taken. Homed elsewhere, their twins make an unwritten
// page cost a diff that comes out empty at the release (no notice, nothing
// sent). Homed here, only pages no other node was sent since their last
// notice (gpt/sole_copy.h): the release keeps them writable, and an
// unwritten one costs nothing, or once, if never noticed yet, a notice that
// outdates the starting image elsewhere. Returns how many pages after `page`
// it claimed.
std::uint64_t claim_write_ahead(const GlobalSpace& s, std::uint64_t page) {
  const std::uint64_t most = write_ahead_pages();
  const std::uint64_t limit = page != t_write_next ? 0 : t_write_run < most ? t_write_run : most;
  const std::uint32_t home = s.geometry.home_of_page(page);
  const std::uintptr_t first = s.geometry.address_of_page(page);
  std::uint64_t n = 0;
  while (n < limit && page + n + 1 < s.geometry.page_count() &&
         s.geometry.home_of_page(page + n + 1) == home &&
         s.geometry.address_of_page(page + n + 1) == first + (n + 1) * region::kPageSize &&
         (home != s.self || !sole_copy::sent(s.sole[page + n + 1].load(std::memory_order_relaxed))) &&
         try_claim(page + n + 1, kValid))
    ++n;
  return n;
}

}  // namespace

bool handle_fault(std::uintptr_t address, bool is_write) {
  GlobalSpace& s = space();
  if (!s.coherent) return false;
  const std::uint64_t page = s.geometry.page_of(address);
  if (s.geometry.home_of_page(page) >= s.geometry.node_count) return false;  // unused tail
  std::uint32_t was = claim(page, bit(kInvalid) | bit(kValid));
  if (was == kGuard) return false;  // a stack overflow: reported by on_sigsegv
  if (was == kDirty) return true;  // another thread made it writable: retry the access
  if (was == kInvalid) {
    count(&channel::Header::read_faults);
    if (!is_write) {
      // Read fault: fetch the following invalid pages of the same home and
      // window in the same round trip (sequential scans pay one per batch).
      // A fault where this thread's last batch ended continues a scan, whose
      // pages the agent is reading ahead: take as many as one fetch may.
      const std::uint64_t limit = page == t_scan_next ? kScanBatch : prefetch_pages();
      const std::uint32_t home = s.geometry.home_of_page(page);
      const std::uintptr_t first = s.geometry.address_of_page(page);
      std::uint64_t n = 1;
      while (n < limit && page + n < s.geometry.page_count() &&
             s.geometry.home_of_page(page + n) == home &&
             s.geometry.address_of_page(page + n) == first + n * region::kPageSize &&
             try_claim(page + n, kInvalid))
        ++n;
      FetchTrace trace;
      const std::uint64_t got = fetch(page, n, &trace);
      s.content_generation.fetch_add(1, std::memory_order_acq_rel);  // before the pages settle
      if (sys::call(SYS_mprotect, sys::arg(first), static_cast<long>(got * region::kPageSize), PROT_READ) != 0)
        rt::die("mprotect of global pages failed (too many mappings? see vm.max_map_count)", 134);
      for (std::uint64_t i = 0; i < got; ++i) settle(page + i, kValid);
      for (std::uint64_t i = got; i < n; ++i) settle(page + i, kInvalid);  // not fetched after all
      t_scan_next = page + got;
      record_fault_trace(trace);
      return true;
    }
    (void)fetch(page, 1);
    s.content_generation.fetch_add(1, std::memory_order_acq_rel);
  } else if (!is_write) {
    // Valid and readable: another thread already served this fault.
    settle(page, kValid);
    return true;
  }
  count(&channel::Header::write_faults);
  // Readable before twinning: the twin copies the page.
  if (was == kInvalid) protect(page, PROT_READ);
  const std::uint64_t ahead = was == kValid ? claim_write_ahead(s, page) : 0;
  for (std::uint64_t i = 0; i <= ahead; ++i) start_writing(page + i);
  protect_run(page, ahead + 1, PROT_READ | PROT_WRITE);
  for (std::uint64_t i = 0; i <= ahead; ++i) settle(page + i, kDirty);
  if (auto* ch = rt::state().channel; ch && ahead)
    ch->header.pages_written_ahead.fetch_add(ahead, std::memory_order_relaxed);
  t_write_run = page == t_write_next ? t_write_run + ahead + 1 : ahead + 1;
  t_write_next = page + ahead + 1;
  return true;
}

void set_unhandled_fault_hook(UnhandledFaultHook hook) { g_unhandled_fault_hook = hook; }

void install_fault_handler() {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_sigsegv;
  // SA_ONSTACK: a fault on a write-protected global stack page cannot push
  // the signal frame onto that same page (threads install a private
  // sigaltstack, see threads/service.cc).
  sa.sa_flags = SA_SIGINFO | SA_RESTART | SA_NODEFER | SA_ONSTACK;
  sigemptyset(&sa.sa_mask);
  if (sigaction(SIGSEGV, &sa, nullptr) != 0) rt::die("cannot install the SIGSEGV handler", 127);
}

}  // namespace gpt::galloc
