#include "page_ops.h"

#include <stdlib.h>
#include <sys/mman.h>

#include <cstring>

#include "diag.h"
#include "gpt/channel_client.h"
#include "gpt/futex.h"
#include "runtime.h"

namespace gpt::galloc {

std::uint32_t claim(std::uint64_t page, std::uint32_t accepted_mask) {
  auto& word = space().states[page];
  for (;;) {
    std::uint32_t s = word.load(std::memory_order_acquire);
    if (s == kBusy) {
      futex::wait(&word, kBusy);
      continue;
    }
    if (!(accepted_mask & bit(s))) return s;
    if (word.compare_exchange_weak(s, kBusy, std::memory_order_acquire)) return s;
  }
}

bool try_claim(std::uint64_t page, std::uint32_t from) {
  std::uint32_t expected = from;
  return space().states[page].compare_exchange_strong(expected, kBusy, std::memory_order_acquire);
}

void settle(std::uint64_t page, std::uint32_t state) {
  auto& word = space().states[page];
  word.store(state, std::memory_order_release);
  futex::wake_all(&word);
}

void protect(std::uint64_t page, int prot) { protect_run(page, 1, prot); }

void protect_run(std::uint64_t first, std::uint64_t count, int prot) {
  if (sys::call(SYS_mprotect, sys::arg(space().page_address(first)), static_cast<long>(count * region::kPageSize),
                prot) != 0)
    rt::die("mprotect of a global page failed (too many mappings? see vm.max_map_count)", 134);
}

void protect_all(const std::uint64_t* pages, std::uint64_t n, int prot) {
  const GlobalSpace& s = space();
  for (std::uint64_t i = 0; i < n;) {
    std::uint64_t run = 1;
    while (i + run < n && pages[i + run] == pages[i] + run &&
           s.page_address(pages[i + run]) == s.page_address(pages[i]) + run * region::kPageSize)
      ++run;
    protect_run(pages[i], run, prot);
    i += run;
  }
}

namespace {

// A page count from the environment, kept within [least, most]; gpt-launch
// has refused values that are not whole numbers in range (tools/util/
// env_number.h), so this only guards a program started some other way.
// getenv is safe here (no allocation): the first call comes from the first
// fault, long after start-up.
std::uint64_t pages_from_env(const char* name, std::uint64_t fallback, std::uint64_t least, std::uint64_t most) {
  const char* text = getenv(name);
  if (!text || *text < '0' || *text > '9') return fallback;
  std::uint64_t n = 0;
  for (; *text >= '0' && *text <= '9' && n <= most; ++text) n = n * 10 + static_cast<std::uint64_t>(*text - '0');
  return n < least ? least : n > most ? most : n;
}

}  // namespace

std::uint64_t prefetch_pages() {
  static const std::uint64_t pages = pages_from_env("GPT_PREFETCH", 8, 1, channel::kMaxPagesPerFetch);
  return pages;
}

std::uint64_t write_ahead_pages() {
  static const std::uint64_t pages = pages_from_env("GPT_WRITE_AHEAD", 32, 0, 256);
  return pages;
}

std::uint64_t fetch(std::uint64_t page, std::uint64_t count, FetchTrace* trace) {
  channel::Layout* layout = rt::state().channel;
  channel::Client client(layout);
  const bool traced = trace && layout->header.trace_faults != 0;
  const channel::FetchPageRequest request{page, count, traced ? channel::monotonic_ns() : 0};
  channel::FetchPageReply reply{count};
  auto r = client.call(channel::Op::kFetchPage, request, reply);
  if (traced && r.status == 0 && r.length == sizeof reply && reply.picked_ns != 0)
    *trace = FetchTrace{request.traced_ns, reply.picked_ns, reply.sent_ns, reply.arrived_ns, reply.replied_ns,
                        channel::monotonic_ns()};
  // An empty reply: all of them; else only the first `fetched`.
  if (r.status == 0 && (r.length == 0 || (r.length >= sizeof reply.fetched && reply.fetched >= 1 && reply.fetched <= count)))
    return r.length == 0 ? count : reply.fetched;
  rt::diag()
      .text("cannot fetch global page at ")
      .hex(reinterpret_cast<std::uintptr_t>(space().page_address(page)))
      .text(" from node ")
      .num(space().geometry.home_of_page(page))
      .text(" (agent status ")
      .num(r.status)
      .text(")")
      .emit();
  _exit(134);
}

void record_fault_trace(const FetchTrace& t) {
  if (t.picked_ns == 0) return;  // not traced
  channel::Header& h = rt::state().channel->header;
  const std::uint64_t at[] = {t.faulted_ns, t.picked_ns, t.sent_ns, t.arrived_ns, t.replied_ns, t.woken_ns,
                              channel::monotonic_ns()};
  for (std::size_t i = 0; i < sizeof h.fault_hop_ns / sizeof h.fault_hop_ns[0]; ++i)
    h.fault_hop_ns[i].fetch_add(at[i + 1] > at[i] ? at[i + 1] - at[i] : 0, std::memory_order_relaxed);
  h.traced_faults.fetch_add(1, std::memory_order_relaxed);
}

void start_writing(std::uint64_t page) {
  GlobalSpace& s = space();
  if (!s.is_home(page))
    std::memcpy(s.twins + page * region::kPageSize, s.page_address(page), region::kPageSize);
  Held<FutexLock> hold(s.dirty_lock);
  s.dirty[s.dirty_count++] = page;
}

}  // namespace gpt::galloc
