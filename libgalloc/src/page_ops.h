// Page-level steps shared by the fault handler, release and acquire. All of
// them are async-signal-safe: atomics, futexes, mprotect and channel calls.
#pragma once

#include <cstdint>

#include "global_space.h"

namespace gpt::galloc {

// Claims `page` for a state change: waits while another thread holds it
// busy, then moves it from `from` to kBusy. Returns the state it had if that
// was one of the accepted ones, or the (non-accepted) state it found.
[[nodiscard]] std::uint32_t claim(std::uint64_t page, std::uint32_t accepted_mask);
// Claims `page` only if it is `from` right now (never waits).
[[nodiscard]] bool try_claim(std::uint64_t page, std::uint32_t from);
// Ends a claim: publishes `state` and wakes waiters.
void settle(std::uint64_t page, std::uint32_t state);

void protect(std::uint64_t page, int prot);
// `count` pages from `first`, whose addresses follow each other.
void protect_run(std::uint64_t first, std::uint64_t count, int prot);
// Every page of the list, one call per run of neighbouring pages (a release
// of many pages written in order costs one mprotect, not one per page).
void protect_all(const std::uint64_t* pages, std::uint64_t n, int prot);
// Fetches `count` pages from `page` on (same home, claimed by the caller)
// into the memfd; the agent does the work. Returns how many of them (at
// least the first) are in: the agent may serve fewer from copies it holds.
// `trace`, if not null, gets the fetch's timestamps when faults are traced
// (gpt/channel.h, trace_faults; zeros otherwise).
struct FetchTrace {
  std::uint64_t faulted_ns = 0;  // as the request was made
  std::uint64_t picked_ns = 0, sent_ns = 0, arrived_ns = 0, replied_ns = 0;  // the agent's
  std::uint64_t woken_ns = 0;  // as the reply was read
};
[[nodiscard]] std::uint64_t fetch(std::uint64_t page, std::uint64_t count, FetchTrace* trace = nullptr);
// Adds a traced fault (its pages mapped now) to the channel's hop counters.
void record_fault_trace(const FetchTrace& trace);
// How many pages a read fault fetches at most (GPT_PREFETCH, default 8).
[[nodiscard]] std::uint64_t prefetch_pages();
// How many pages a write fault that continues a sequential streak may twin
// after the faulting one (GPT_WRITE_AHEAD, default 32; 0: none).
[[nodiscard]] std::uint64_t write_ahead_pages();
// Copies the page to its twin (not for home pages) and adds it to the dirty
// list. The caller holds the claim and makes the page writable afterwards.
void start_writing(std::uint64_t page);

[[nodiscard]] constexpr std::uint32_t bit(std::uint32_t state) { return 1u << state; }

}  // namespace gpt::galloc
