// Protocol tests' harness: 2-4 agents' service sets (NodeServices) wired to
// one FakeNetwork, each with its own channel memory and heap memfd, and no
// program. A test plays the program: it publishes requests in channel
// slots as the client would (without waiting), writes pages and twins as
// the fault handler would, and answers downcalls as the service thread
// would. pump() serves and delivers until nothing moves: no threads, no
// sockets, no sleeps, so every run takes the same steps.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include "channel_memory.h"
#include "channel_server.h"
#include "fake_transport.h"
#include "gpt/channel.h"
#include "gpt/channel_ops.h"
#include "gpt/region.h"
#include "heap_memory.h"
#include "message_gate.h"
#include "node_services.h"
#include "wire.h"

namespace gpt::test {

using Downcall = channel::DowncallQueue::Entry;

class FakeNode {
 public:
  FakeNode(net::FakeNetwork& network, wire::NodeId id, const region::Geometry& geometry);
  FakeNode(const FakeNode&) = delete;
  FakeNode& operator=(const FakeNode&) = delete;

  [[nodiscard]] wire::NodeId id() const { return id_; }

  // ---- the program's side ----
  // Publishes a request in a free slot, as channel::Client does, and
  // returns the slot; the agent takes it at its next serve().
  std::uint32_t post_bytes(channel::Op op, std::span<const unsigned char> request);
  template <class T>
  std::uint32_t post(channel::Op op, const T& request) {
    static_assert(std::is_trivially_copyable_v<T>);
    return post_bytes(op, std::span(reinterpret_cast<const unsigned char*>(&request), sizeof request));
  }
  // A head followed by u64 words (a release's pages, a remote free's pointers).
  template <class Head>
  std::uint32_t post(channel::Op op, const Head& head, const std::vector<std::uint64_t>& words) {
    std::vector<unsigned char> bytes(sizeof head + words.size() * sizeof(std::uint64_t));
    std::memcpy(bytes.data(), &head, sizeof head);
    if (!words.empty()) std::memcpy(bytes.data() + sizeof head, words.data(), words.size() * sizeof(std::uint64_t));
    return post_bytes(op, bytes);
  }
  std::uint32_t post_words(channel::Op op, const std::vector<std::uint64_t>& words);
  std::uint32_t post_empty(channel::Op op) { return post_bytes(op, {}); }

  [[nodiscard]] bool answered(std::uint32_t slot) const;
  [[nodiscard]] std::int32_t status(std::uint32_t slot) const;
  [[nodiscard]] std::span<unsigned char> reply(std::uint32_t slot) const;  // the reply's bytes
  template <class T>
  [[nodiscard]] T reply_as(std::uint32_t slot) const {
    T t{};
    const auto r = reply(slot);
    if (r.size() == sizeof t) std::memcpy(&t, r.data(), sizeof t);
    return t;
  }
  // The slot goes back to the pool (the client does this after reading).
  void free(std::uint32_t slot);

  // What the agent handed the program's service thread since last asked.
  [[nodiscard]] std::vector<Downcall> take_downcalls();
  // The pointers the agent put into the program's remote-free inbox.
  [[nodiscard]] std::vector<std::uint64_t> take_inbox();

  // A write by the program: the page's twin keeps its old bytes (as the
  // fault handler makes it), then `value` goes to `offset`.
  void write(std::uint64_t page, std::size_t offset, std::byte value);
  // A write to a page the program kept writable since its last release:
  // the twin is left alone (docs/coherence.md, "Written pages stay writable").
  void write_in_place(std::uint64_t page, std::size_t offset, std::byte value);
  void set_mark(std::uint64_t page, std::uint8_t mark);
  [[nodiscard]] std::byte read(std::uint64_t page, std::size_t offset) const;
  // The program applied every notice up to `epoch` (an acquire's answer).
  void mark_applied(std::uint64_t epoch);
  // The program released a home page with a notice: its copy is the only
  // one now (gpt/sole_copy.h).
  void mark_sole(std::uint64_t page);
  [[nodiscard]] bool sole(std::uint64_t page) const { return sole_copy::sole(heap_.sole_copy_mark(page)); }
  [[nodiscard]] bool sent(std::uint64_t page) const { return sole_copy::sent(heap_.sole_copy_mark(page)); }
  [[nodiscard]] std::uint8_t mark(std::uint64_t page) const { return heap_.sole_copy_mark(page); }

  // ---- the agent's side ----
  // Serves published requests and polls every service; how many requests.
  std::size_t serve();
  // Delivers every message waiting for this node; how many frames it took
  // (those the gate dropped included).
  std::size_t deliver();

  [[nodiscard]] node::ServiceTable& table() { return services_.table(); }
  [[nodiscard]] net::MessageGate& gate() { return gate_; }
  [[nodiscard]] channel::Layout& layout() const { return channel_.layout(); }
  [[nodiscard]] const node::HeapMemory& heap() const { return heap_; }
  [[nodiscard]] std::string stats() const;
  // The pid the agent takes for its program's (-1: none runs).
  void set_program_pid(pid_t pid) { program_pid_ = pid; }

 private:
  wire::NodeId id_;
  pid_t program_pid_ = -1;
  node::ChannelMemory channel_;
  node::HeapMemory heap_;
  std::unique_ptr<net::Transport> transport_;
  net::MessageGate gate_;
  node::ChannelServer server_;
  node::NodeServices services_;
};

class FakeCluster {
 public:
  // `nodes` agents of one job; a small heap keeps the memfds small.
  explicit FakeCluster(std::uint32_t nodes, std::size_t heap_bytes = region::kMinHeapBytes);

  [[nodiscard]] FakeNode& operator[](wire::NodeId node) { return *nodes_.at(node); }
  [[nodiscard]] std::uint32_t size() const { return static_cast<std::uint32_t>(nodes_.size()); }
  [[nodiscard]] const region::Geometry& geometry() const { return geometry_; }
  // The `i`th page homed at `node`.
  [[nodiscard]] std::uint64_t page_of(wire::NodeId node, std::uint64_t i = 0) const;
  [[nodiscard]] net::FakeNetwork& network() { return network_; }

  // Serves and delivers on every node until a whole round moves nothing;
  // returns the number of requests and messages handled. A protocol that
  // never goes quiet fails the test instead of hanging it.
  std::size_t pump();

 private:
  region::Geometry geometry_;
  net::FakeNetwork network_;
  std::vector<std::unique_ptr<FakeNode>> nodes_;
};

}  // namespace gpt::test
