#include "profile_dump.h"

#include <algorithm>
#include <cstdio>

#include "gpt/channel_client.h"

namespace gpt::node {
namespace {

std::string us(std::uint64_t ns) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f", static_cast<double>(ns) / 1000.0);
  return text;
}

}  // namespace

TickClock TickClock::start_now() {
  TickClock c;
  c.ticks0_ = profile::ticks();
  c.ns0_ = channel::monotonic_ns();
  return c;
}

void TickClock::end_now() {
  const std::uint64_t t = profile::ticks();
  const std::uint64_t n = channel::monotonic_ns();
  if (t > ticks0_ && n > ns0_) ns_per_tick_ = static_cast<double>(n - ns0_) / static_cast<double>(t - ticks0_);
}

std::uint64_t TickClock::ns(std::uint64_t ticks) const {
  return static_cast<std::uint64_t>(static_cast<double>(ticks) * ns_per_tick_);
}

std::uint64_t TickClock::ns_since_start(std::uint64_t ticks) const { return ticks > ticks0_ ? ns(ticks - ticks0_) : 0; }

std::string profile_json(std::uint32_t node, const profile::ProfileArea& area, const TickClock& clock,
                         const std::vector<std::pair<std::string, std::uint64_t>>& counters) {
  const std::uint64_t offered = area.next_event.load(std::memory_order_acquire);
  const std::uint64_t kept = std::min<std::uint64_t>(offered, profile::kProfileEvents);
  std::vector<std::uint64_t> sites;
  std::string out = "{\"node\":" + std::to_string(node) + ",\"events\":[";
  bool first = true;
  for (std::uint64_t i = 0; i < kept; ++i) {
    const profile::Event& e = area.events[i];
    // A record still being written when the job ended has no kind yet.
    if (e.kind == 0 || e.kind >= profile::kKindCount) continue;
    out += first ? "[" : ",[";
    first = false;
    out += us(clock.ns_since_start(e.start_ticks)) + "," + us(clock.ns(e.duration_ticks)) + "," +
           std::to_string(e.kind) + "," + std::to_string(e.thread) + "," + std::to_string(e.object) + "," +
           std::to_string(e.site) + "]";
    if (e.site) sites.push_back(e.site);
  }
  out += "],\"objects\":[";
  first = true;
  for (const profile::ObjectTotal& t : area.objects) {
    const std::uint64_t key = t.key.load(std::memory_order_acquire);
    if (key == 0) continue;
    out += first ? "[" : ",[";
    first = false;
    out += std::to_string(static_cast<std::uint32_t>(profile::key_kind(key))) + "," +
           std::to_string(profile::key_object(key)) + "," + std::to_string(t.count.load()) + "," +
           us(clock.ns(t.total_ticks.load())) + "," + us(clock.ns(t.max_ticks.load())) + "," +
           std::to_string(t.site.load()) + "," +
           std::to_string(__builtin_popcountll(t.threads_mask.load())) + "]";
    if (t.site.load()) sites.push_back(t.site.load());
  }
  // The code addresses seen, for the launcher to name (addr2line).
  std::sort(sites.begin(), sites.end());
  sites.erase(std::unique(sites.begin(), sites.end()), sites.end());
  out += "],\"sites\":[";
  for (std::size_t i = 0; i < sites.size(); ++i) out += (i ? "," : "") + std::to_string(sites[i]);
  out += "],\"load_bias\":" + std::to_string(area.load_bias.load()) +
         ",\"events_offered\":" + std::to_string(offered) +
         ",\"events_dropped\":" + std::to_string(offered - kept) +
         ",\"objects_dropped\":" + std::to_string(area.objects_dropped.load()) + ",\"counters\":{";
  first = true;
  for (const auto& [name, value] : counters) {
    out += (first ? "\"" : ",\"") + name + "\":" + std::to_string(value);
    first = false;
  }
  return out + "}}";
}

}  // namespace gpt::node
