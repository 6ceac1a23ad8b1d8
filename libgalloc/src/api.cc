// The public calls of galloc.h.
#include "galloc.h"

#include "coherence.h"
#include "global_space.h"
#include "runtime.h"

#define GPT_API extern "C" __attribute__((visibility("default")))


using gpt::galloc::space;

GPT_API void galloc_release(void) { gpt::galloc::release(); }
GPT_API void galloc_acquire(void) { gpt::galloc::acquire(); }
GPT_API void gpt_barrier_all(void) { gpt::galloc::barrier_all(); }

GPT_API void* galloc_heap_base(void) { return space().heap; }
GPT_API size_t galloc_heap_size(void) { return space().geometry.heap_bytes; }
GPT_API size_t galloc_partition_size(void) { return space().geometry.partition_bytes(); }
GPT_API void* galloc_partition_base(int node) {
  if (node < 0 || static_cast<std::uint32_t>(node) >= space().geometry.node_count) return nullptr;
  return reinterpret_cast<void*>(space().geometry.partition_base(static_cast<std::uint32_t>(node)));
}
GPT_API int galloc_is_global(const void* p) { return space().contains(p) ? 1 : 0; }

GPT_API void galloc_get_stats(struct galloc_stats* out) {
  *out = {};
  if (auto* ch = gpt::rt::state().channel) {
    const auto& h = ch->header;
    out->read_faults = h.read_faults.load();
    out->write_faults = h.write_faults.load();
    out->invalidations = h.invalidations.load();
    out->releases = h.releases.load();
    out->acquires = h.acquires.load();
    out->remote_frees_sent = h.remote_frees_sent.load();
    out->remote_free_batches = h.remote_free_batches.load();
    out->remote_frees_received = h.remote_frees_received.load();
    out->acquires_answered_here = h.acquires_answered_here.load();
    out->fetches_from_copies = h.fetches_from_copies.load();
    out->copies_installed = h.copies_installed.load();
    out->sole_pages_kept = h.sole_pages_kept.load();
    out->pages_written_ahead = h.pages_written_ahead.load();
  }
}
