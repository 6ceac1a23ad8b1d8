#include "wire.h"

#include <cereal/archives/binary.hpp>
#include <cstring>
#include <new>
#include <optional>
#include <istream>
#include <ostream>
#include <stdexcept>
#include <streambuf>
#include <type_traits>

namespace gpt::wire {
namespace {

constexpr std::size_t kHeaderBytes = 12;
constexpr std::uint64_t kMaxPad = 16ull << 20;
// A byte-exact page diff is at most 2048 runs of 5 bytes (gpt-node/page_diff.h).
constexpr std::uint64_t kMaxDiffBytes = 10240;

// Raised inside decoding when a bound is exceeded; caught in decode().
struct BoundExceeded {};

// An input streambuf over a span, without copying.
class SpanBuf : public std::streambuf {
 public:
  explicit SpanBuf(std::span<const std::byte> bytes) {
    char* p = const_cast<char*>(reinterpret_cast<const char*>(bytes.data()));
    setg(p, p, p + bytes.size());
  }
  [[nodiscard]] std::size_t remaining() const { return static_cast<std::size_t>(egptr() - gptr()); }
};

// An output streambuf appending to a byte vector.
class VectorBuf : public std::streambuf {
 public:
  explicit VectorBuf(std::vector<std::byte>& out) : out_(out) {}

 protected:
  std::streamsize xsputn(const char* s, std::streamsize n) override {
    auto* b = reinterpret_cast<const std::byte*>(s);
    out_.insert(out_.end(), b, b + n);
    return n;
  }
  int_type overflow(int_type c) override {
    if (c != traits_type::eof()) out_.push_back(static_cast<std::byte>(c));
    return c;
  }

 private:
  std::vector<std::byte>& out_;
};

// Length-prefixed fields with bounds: the length is checked against both
// the field's limit and the bytes left in the frame before anything is
// allocated.
template <class Container>
void save_sized(cereal::BinaryOutputArchive& ar, const Container& c) {
  ar(static_cast<std::uint64_t>(c.size()));
  if (!c.empty()) ar(cereal::binary_data(c.data(), c.size() * sizeof(c[0])));
}

template <class Container>
void load_sized(cereal::BinaryInputArchive& ar, const SpanBuf& in, Container& c,
                std::uint64_t limit) {
  std::uint64_t n = 0;
  ar(n);
  if (n > limit || n * sizeof(c[0]) > in.remaining()) throw BoundExceeded{};
  c.resize(static_cast<std::size_t>(n));
  if (n) ar(cereal::binary_data(c.data(), c.size() * sizeof(c[0])));
}

void save_notices(cereal::BinaryOutputArchive& ar, const Notices& n) {
  ar(n.epoch);
  save_sized(ar, n.pages);
  save_sized(ar, n.update_pages);
  save_sized(ar, n.update_bytes);
}

void load_notices(cereal::BinaryInputArchive& ar, const SpanBuf& in, Notices& n) {
  ar(n.epoch);
  load_sized(ar, in, n.pages, kMaxPagesPerMessage);
  load_sized(ar, in, n.update_pages, kMaxUpdatePages);
  load_sized(ar, in, n.update_bytes, kMaxUpdatePages * kPageBytes);
  if (n.update_bytes.size() != n.update_pages.size() * kPageBytes) throw BoundExceeded{};
}

struct Writer {
  cereal::BinaryOutputArchive& ar;
  void operator()(const Hello& m) {
    ar(m.node);
    save_sized(ar, m.data_endpoint);
    ar(m.agent_pid);
  }
  void operator()(const PeerTable& m) {
    ar(static_cast<std::uint64_t>(m.endpoints.size()));
    for (const auto& e : m.endpoints) save_sized(ar, e);
  }
  void operator()(const AppStarted& m) { ar(m.node, m.app_pid); }
  void operator()(const MainExited& m) { ar(m.wait_status); }
  void operator()(const NodeFailed& m) {
    ar(m.node, m.pid);
    save_sized(ar, m.cause);
    ar(m.wait_status);
  }
  void operator()(const Shutdown& m) { save_sized(ar, m.reason); }
  void operator()(const ProfileReport& m) { save_sized(ar, m.json); }
  void operator()(const Ping& m) {
    ar(m.seq, m.payload_bytes);
    save_sized(ar, m.pad);
  }
  void operator()(const Pong& m) {
    ar(m.seq);
    save_sized(ar, m.pad);
  }
  void operator()(const FramePart& m) {
    ar(m.last);
    save_sized(ar, m.bytes);
  }
  void operator()(const PageRequest& m) { ar(m.request, m.page, m.count); }
  void operator()(const PageData& m) {
    ar(m.request, m.page);
    save_sized(ar, m.bytes);
  }
  void operator()(const DiffBatch& m) {
    ar(m.request);
    save_sized(ar, m.pages);
    for (const auto& d : m.diffs) save_sized(ar, d);
    save_sized(ar, m.notices);
  }
  void operator()(const DiffAck& m) { ar(m.request, m.rejected, m.epoch); }
  void operator()(const NoticeQuery& m) { ar(m.request); }
  void operator()(const NoticeList& m) {
    ar(m.request);
    save_notices(ar, m.notices);
  }
  void operator()(const RemoteFrees& m) { save_sized(ar, m.pointers); }
  void operator()(const SpawnThread& m) {
    ar(m.tcb, m.epoch);
    save_notices(ar, m.notices);
  }
  void operator()(const ThreadExited& m) { ar(m.tcb, m.epoch); }
  void operator()(const JoinWait& m) { ar(m.request, m.tcb, m.try_only); }
  void operator()(const JoinDone& m) {
    ar(m.request, m.status, m.epoch);
    save_notices(ar, m.notices);
  }
  void operator()(const MigrateThread& m) {
    ar(m.tcb, m.epoch);
    save_notices(ar, m.notices);
  }
  void operator()(const SyscallRequest& m) {
    ar(m.request);
    save_sized(ar, m.blob);
  }
  void operator()(const SyscallReply& m) {
    ar(m.request);
    save_sized(ar, m.blob);
  }
  void operator()(const FlushStdio& m) { ar(m.request); }
  void operator()(const KillThread& m) { ar(m.tcb, m.sig, m.hops); }
  void operator()(const DetachThread& m) { ar(m.tcb); }
  void operator()(const CensusQuery& m) { ar(m.round); }
  void operator()(const CensusReply& m) { ar(m.round, m.spawned, m.ended); }
  void operator()(const SignalAction& m) { ar(m.sig, m.handler, m.flags, m.mask); }
  void operator()(const ProcessSignalProbe& m) { ar(m.request, m.sig); }
  void operator()(const ProcessSignalTaker& m) { ar(m.request, m.sig, m.can_take); }
  void operator()(const ProcessSignal& m) { ar(m.sig, m.code, m.pid, m.uid, m.value); }
  void operator()(const StdioFlushed& m) { ar(m.request); }
  void operator()(const KeyReply& m) { ar(m.request, m.result, m.key, m.destructor); }
  void operator()(const KeyOp& m) { ar(m.request, m.op, m.key, m.destructor); }
  void operator()(const SemNameOp& m) {
    ar(m.request, m.op, m.oflag, m.address);
    save_sized(ar, m.name);
  }
  void operator()(const SemNameResult& m) { ar(m.request, m.error, m.address, m.created, m.free_it); }
  void operator()(const RwCancel& m) { ar(m.request, m.lock); }
  void operator()(const RwRelease& m) { ar(m.lock, m.write, m.epoch); }
  void operator()(const RwGranted& m) {
    ar(m.request, m.result, m.epoch);
    save_notices(ar, m.notices);
  }
  void operator()(const RwRequest& m) { ar(m.request, m.lock, m.write, m.try_only); }
  void operator()(const SemValue& m) { ar(m.request, m.value); }
  void operator()(const SemValueQuery& m) { ar(m.request, m.sem, m.incarnation, m.initial); }
  void operator()(const SemCancel& m) { ar(m.request, m.sem, m.incarnation); }
  void operator()(const SemPost& m) { ar(m.sem, m.incarnation, m.initial, m.epoch); }
  void operator()(const SemGranted& m) {
    ar(m.request, m.result, m.epoch);
    save_notices(ar, m.notices);
  }
  void operator()(const SemWait& m) { ar(m.request, m.sem, m.incarnation, m.initial, m.try_only); }
  void operator()(const CondCancel& m) { ar(m.cond, m.ticket); }
  void operator()(const CondWake& m) { ar(m.ticket); }
  void operator()(const CondSignal& m) { ar(m.cond, m.all); }
  void operator()(const CondEnqueued& m) { ar(m.request); }
  void operator()(const CondEnqueue& m) { ar(m.request, m.cond); }
  void operator()(const BarrierWaitRequest& m) { ar(m.request, m.barrier, m.count, m.epoch, m.weight, m.returned); }
  void operator()(const BarrierWaitDone& m) {
    ar(m.request, m.serial, m.epoch);
    save_notices(ar, m.notices);
    ar(m.lease, m.barrier);
  }
  void operator()(const BarrierRecall& m) { ar(m.barrier); }
  void operator()(const LockReturn& m) { ar(m.lock, m.epoch); }
  void operator()(const LockRecall& m) { ar(m.lock, m.if_free); }
  void operator()(const LockKept& m) { ar(m.lock); }
  void operator()(const LockBusy& m) { ar(m.lock); }
  void operator()(const LockUnlock& m) { ar(m.lock, m.epoch, m.unlocker, m.slot, m.to_holder); }
  void operator()(const LockUnlocked& m) { ar(m.lock, m.slot); }
  void operator()(const LockGrant& m) {
    ar(m.lock, m.epoch);
    save_notices(ar, m.notices);
  }
  void operator()(const LockRequest& m) { ar(m.lock, m.try_only); }
  void operator()(const BarrierArrive& m) { ar(m.generation); }
  void operator()(const BarrierRelease& m) {
    ar(m.generation);
    save_notices(ar, m.notices);
  }
};

struct Reader {
  cereal::BinaryInputArchive& ar;
  const SpanBuf& in;
  void operator()(Hello& m) {
    ar(m.node);
    load_sized(ar, in, m.data_endpoint, kMaxText);
    ar(m.agent_pid);
  }
  void operator()(PeerTable& m) {
    std::uint64_t n = 0;
    ar(n);
    // Each entry needs at least its 8-byte length.
    if (n > kMaxNodes || n * 8 > in.remaining()) throw BoundExceeded{};
    m.endpoints.resize(static_cast<std::size_t>(n));
    for (auto& e : m.endpoints) load_sized(ar, in, e, kMaxText);
  }
  void operator()(AppStarted& m) { ar(m.node, m.app_pid); }
  void operator()(MainExited& m) { ar(m.wait_status); }
  void operator()(NodeFailed& m) {
    ar(m.node, m.pid);
    load_sized(ar, in, m.cause, kMaxText);
    ar(m.wait_status);
  }
  void operator()(Shutdown& m) { load_sized(ar, in, m.reason, kMaxText); }
  void operator()(ProfileReport& m) { load_sized(ar, in, m.json, kMaxProfileBytes); }
  void operator()(Ping& m) {
    ar(m.seq, m.payload_bytes);
    load_sized(ar, in, m.pad, kMaxPad);
  }
  void operator()(Pong& m) {
    ar(m.seq);
    load_sized(ar, in, m.pad, kMaxPad);
  }
  void operator()(FramePart& m) {
    ar(m.last);
    if (m.last > 1) throw BoundExceeded{};
    load_sized(ar, in, m.bytes, kMaxPartBytes);
    if (m.bytes.empty()) throw BoundExceeded{};
  }
  void operator()(PageRequest& m) {
    ar(m.request, m.page, m.count);
    if (m.count == 0 || m.count > kMaxPagesPerFetch) throw BoundExceeded{};
  }
  void operator()(PageData& m) {
    ar(m.request, m.page);
    load_sized(ar, in, m.bytes, kMaxPagesPerFetch * kPageBytes);
    if (m.bytes.empty() || m.bytes.size() % kPageBytes != 0) throw BoundExceeded{};
  }
  void operator()(DiffBatch& m) {
    ar(m.request);
    load_sized(ar, in, m.pages, kMaxPagesPerMessage);
    // Each diff needs at least its 8-byte length.
    if (m.pages.size() * 8 > in.remaining()) throw BoundExceeded{};
    m.diffs.resize(m.pages.size());
    for (auto& d : m.diffs) load_sized(ar, in, d, kMaxDiffBytes);
    load_sized(ar, in, m.notices, kMaxPagesPerMessage);
  }
  void operator()(DiffAck& m) { ar(m.request, m.rejected, m.epoch); }
  void operator()(NoticeQuery& m) { ar(m.request); }
  void operator()(NoticeList& m) {
    ar(m.request);
    load_notices(ar, in, m.notices);
  }
  void operator()(RemoteFrees& m) { load_sized(ar, in, m.pointers, kMaxPagesPerMessage); }
  void operator()(SpawnThread& m) {
    ar(m.tcb, m.epoch);
    load_notices(ar, in, m.notices);
  }
  void operator()(ThreadExited& m) { ar(m.tcb, m.epoch); }
  void operator()(JoinWait& m) { ar(m.request, m.tcb, m.try_only); }
  void operator()(JoinDone& m) {
    ar(m.request, m.status, m.epoch);
    load_notices(ar, in, m.notices);
  }
  void operator()(MigrateThread& m) {
    ar(m.tcb, m.epoch);
    load_notices(ar, in, m.notices);
  }
  void operator()(SyscallRequest& m) {
    ar(m.request);
    load_sized(ar, in, m.blob, kMaxForwardedBytes);
  }
  void operator()(SyscallReply& m) {
    ar(m.request);
    load_sized(ar, in, m.blob, kMaxForwardedBytes);
  }
  void operator()(FlushStdio& m) { ar(m.request); }
  void operator()(KillThread& m) { ar(m.tcb, m.sig, m.hops); }
  void operator()(DetachThread& m) { ar(m.tcb); }
  void operator()(CensusQuery& m) { ar(m.round); }
  void operator()(CensusReply& m) { ar(m.round, m.spawned, m.ended); }
  void operator()(SignalAction& m) { ar(m.sig, m.handler, m.flags, m.mask); }
  void operator()(ProcessSignalProbe& m) { ar(m.request, m.sig); }
  void operator()(ProcessSignalTaker& m) { ar(m.request, m.sig, m.can_take); }
  void operator()(ProcessSignal& m) { ar(m.sig, m.code, m.pid, m.uid, m.value); }
  void operator()(StdioFlushed& m) { ar(m.request); }
  void operator()(KeyReply& m) { ar(m.request, m.result, m.key, m.destructor); }
  void operator()(KeyOp& m) { ar(m.request, m.op, m.key, m.destructor); }
  void operator()(SemNameOp& m) {
    ar(m.request, m.op, m.oflag, m.address);
    load_sized(ar, in, m.name, kMaxText);
  }
  void operator()(SemNameResult& m) { ar(m.request, m.error, m.address, m.created, m.free_it); }
  void operator()(RwCancel& m) { ar(m.request, m.lock); }
  void operator()(RwRelease& m) { ar(m.lock, m.write, m.epoch); }
  void operator()(RwGranted& m) {
    ar(m.request, m.result, m.epoch);
    load_notices(ar, in, m.notices);
  }
  void operator()(RwRequest& m) { ar(m.request, m.lock, m.write, m.try_only); }
  void operator()(SemValue& m) { ar(m.request, m.value); }
  void operator()(SemValueQuery& m) { ar(m.request, m.sem, m.incarnation, m.initial); }
  void operator()(SemCancel& m) { ar(m.request, m.sem, m.incarnation); }
  void operator()(SemPost& m) { ar(m.sem, m.incarnation, m.initial, m.epoch); }
  void operator()(SemGranted& m) {
    ar(m.request, m.result, m.epoch);
    load_notices(ar, in, m.notices);
  }
  void operator()(SemWait& m) { ar(m.request, m.sem, m.incarnation, m.initial, m.try_only); }
  void operator()(CondCancel& m) { ar(m.cond, m.ticket); }
  void operator()(CondWake& m) { ar(m.ticket); }
  void operator()(CondSignal& m) { ar(m.cond, m.all); }
  void operator()(CondEnqueued& m) { ar(m.request); }
  void operator()(CondEnqueue& m) { ar(m.request, m.cond); }
  void operator()(BarrierWaitRequest& m) { ar(m.request, m.barrier, m.count, m.epoch, m.weight, m.returned); }
  void operator()(BarrierWaitDone& m) {
    ar(m.request, m.serial, m.epoch);
    load_notices(ar, in, m.notices);
    ar(m.lease, m.barrier);
  }
  void operator()(BarrierRecall& m) { ar(m.barrier); }
  void operator()(LockReturn& m) { ar(m.lock, m.epoch); }
  void operator()(LockRecall& m) { ar(m.lock, m.if_free); }
  void operator()(LockKept& m) { ar(m.lock); }
  void operator()(LockBusy& m) { ar(m.lock); }
  void operator()(LockUnlock& m) { ar(m.lock, m.epoch, m.unlocker, m.slot, m.to_holder); }
  void operator()(LockUnlocked& m) { ar(m.lock, m.slot); }
  void operator()(LockGrant& m) {
    ar(m.lock, m.epoch);
    load_notices(ar, in, m.notices);
  }
  void operator()(LockRequest& m) { ar(m.lock, m.try_only); }
  void operator()(BarrierArrive& m) { ar(m.generation); }
  void operator()(BarrierRelease& m) {
    ar(m.generation);
    load_notices(ar, in, m.notices);
  }
};

// Builds the variant alternative for a wire type tag.
std::optional<Message> empty_message(std::uint16_t tag) {
  switch (static_cast<Type>(tag)) {
    case Type::kHello: return Hello{};
    case Type::kPeerTable: return PeerTable{};
    case Type::kAppStarted: return AppStarted{};
    case Type::kMainExited: return MainExited{};
    case Type::kNodeFailed: return NodeFailed{};
    case Type::kShutdown: return Shutdown{};
    case Type::kProfileReport: return ProfileReport{};
    case Type::kPing: return Ping{};
    case Type::kPong: return Pong{};
    case Type::kFramePart: return FramePart{};
    case Type::kPageRequest: return PageRequest{};
    case Type::kPageData: return PageData{};
    case Type::kDiffBatch: return DiffBatch{};
    case Type::kDiffAck: return DiffAck{};
    case Type::kNoticeQuery: return NoticeQuery{};
    case Type::kNoticeList: return NoticeList{};
    case Type::kBarrierArrive: return BarrierArrive{};
    case Type::kBarrierRelease: return BarrierRelease{};
    case Type::kRemoteFrees: return RemoteFrees{};
    case Type::kSpawnThread: return SpawnThread{};
    case Type::kThreadExited: return ThreadExited{};
    case Type::kJoinWait: return JoinWait{};
    case Type::kJoinDone: return JoinDone{};
    case Type::kMigrateThread: return MigrateThread{};
    case Type::kSyscallRequest: return SyscallRequest{};
    case Type::kSyscallReply: return SyscallReply{};
    case Type::kFlushStdio: return FlushStdio{};
    case Type::kStdioFlushed: return StdioFlushed{};
    case Type::kKillThread: return KillThread{};
    case Type::kDetachThread: return DetachThread{};
    case Type::kCensusQuery: return CensusQuery{};
    case Type::kCensusReply: return CensusReply{};
    case Type::kSemNameOp: return SemNameOp{};
    case Type::kSemNameResult: return SemNameResult{};
    case Type::kSignalAction: return SignalAction{};
    case Type::kProcessSignalProbe: return ProcessSignalProbe{};
    case Type::kProcessSignalTaker: return ProcessSignalTaker{};
    case Type::kProcessSignal: return ProcessSignal{};
    case Type::kKeyReply: return KeyReply{};
    case Type::kKeyOp: return KeyOp{};
    case Type::kRwCancel: return RwCancel{};
    case Type::kRwRelease: return RwRelease{};
    case Type::kRwGranted: return RwGranted{};
    case Type::kRwRequest: return RwRequest{};
    case Type::kSemValue: return SemValue{};
    case Type::kSemValueQuery: return SemValueQuery{};
    case Type::kSemCancel: return SemCancel{};
    case Type::kSemPost: return SemPost{};
    case Type::kSemGranted: return SemGranted{};
    case Type::kSemWait: return SemWait{};
    case Type::kCondCancel: return CondCancel{};
    case Type::kCondWake: return CondWake{};
    case Type::kCondSignal: return CondSignal{};
    case Type::kCondEnqueued: return CondEnqueued{};
    case Type::kCondEnqueue: return CondEnqueue{};
    case Type::kBarrierWaitRequest: return BarrierWaitRequest{};
    case Type::kBarrierWaitDone: return BarrierWaitDone{};
    case Type::kBarrierRecall: return BarrierRecall{};
    case Type::kLockReturn: return LockReturn{};
    case Type::kLockKept: return LockKept{};
    case Type::kLockBusy: return LockBusy{};
    case Type::kLockUnlock: return LockUnlock{};
    case Type::kLockUnlocked: return LockUnlocked{};
    case Type::kLockRecall: return LockRecall{};
    case Type::kLockGrant: return LockGrant{};
    case Type::kLockRequest: return LockRequest{};
  }
  return std::nullopt;
}

template <class T>
T read_le(const std::byte* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

}  // namespace

std::string_view describe(DecodeError e) {
  switch (e) {
    case DecodeError::kTooShort: return "frame shorter than the header";
    case DecodeError::kBadMagic: return "bad magic (not a gpthread frame)";
    case DecodeError::kBadVersion: return "unsupported protocol version";
    case DecodeError::kUnknownType: return "unknown message type";
    case DecodeError::kMalformed: return "malformed (body did not parse)";
    case DecodeError::kTrailingBytes: return "trailing bytes after the body";
  }
  return "unknown error";
}

Type type_of(const Message& m) {
  static constexpr Type kTypes[] = {
      Type::kHello,       Type::kPeerTable,    Type::kAppStarted,    Type::kMainExited,
      Type::kNodeFailed,  Type::kShutdown,     Type::kPing,          Type::kPong,
      Type::kPageRequest, Type::kPageData,     Type::kDiffBatch,     Type::kDiffAck,
      Type::kNoticeQuery,   Type::kNoticeList,
      Type::kBarrierArrive, Type::kBarrierRelease, Type::kRemoteFrees, Type::kSpawnThread,
      Type::kThreadExited, Type::kJoinWait, Type::kJoinDone, Type::kLockRequest,
      Type::kLockGrant, Type::kLockRecall, Type::kLockReturn, Type::kLockKept, Type::kLockBusy, Type::kLockUnlock, Type::kLockUnlocked, Type::kBarrierWaitRequest,
      Type::kBarrierWaitDone, Type::kBarrierRecall, Type::kCondEnqueue, Type::kCondEnqueued, Type::kCondSignal,
      Type::kCondWake, Type::kCondCancel, Type::kSemWait, Type::kSemGranted, Type::kSemPost,
      Type::kSemCancel, Type::kSemValueQuery, Type::kSemValue, Type::kRwRequest,
      Type::kRwGranted, Type::kRwRelease, Type::kRwCancel, Type::kKeyOp, Type::kKeyReply,
      Type::kMigrateThread, Type::kSyscallRequest, Type::kSyscallReply, Type::kFlushStdio,
      Type::kStdioFlushed, Type::kKillThread, Type::kSignalAction, Type::kDetachThread,
      Type::kCensusQuery, Type::kCensusReply, Type::kSemNameOp, Type::kSemNameResult, Type::kFramePart, Type::kProfileReport,
      Type::kProcessSignalProbe, Type::kProcessSignalTaker, Type::kProcessSignal};
  static_assert(std::size(kTypes) == std::variant_size_v<Message>);
  return kTypes[m.index()];
}

std::string_view name_of(Type t) {
  switch (t) {
    case Type::kHello: return "Hello";
    case Type::kPeerTable: return "PeerTable";
    case Type::kAppStarted: return "AppStarted";
    case Type::kMainExited: return "MainExited";
    case Type::kNodeFailed: return "NodeFailed";
    case Type::kShutdown: return "Shutdown";
    case Type::kProfileReport: return "ProfileReport";
    case Type::kPing: return "Ping";
    case Type::kPong: return "Pong";
    case Type::kFramePart: return "FramePart";
    case Type::kPageRequest: return "PageRequest";
    case Type::kPageData: return "PageData";
    case Type::kDiffBatch: return "DiffBatch";
    case Type::kDiffAck: return "DiffAck";
    case Type::kNoticeQuery: return "NoticeQuery";
    case Type::kNoticeList: return "NoticeList";
    case Type::kBarrierArrive: return "BarrierArrive";
    case Type::kBarrierRelease: return "BarrierRelease";
    case Type::kRemoteFrees: return "RemoteFrees";
    case Type::kSpawnThread: return "SpawnThread";
    case Type::kThreadExited: return "ThreadExited";
    case Type::kJoinWait: return "JoinWait";
    case Type::kJoinDone: return "JoinDone";
    case Type::kMigrateThread: return "MigrateThread";
    case Type::kSyscallRequest: return "SyscallRequest";
    case Type::kSyscallReply: return "SyscallReply";
    case Type::kFlushStdio: return "FlushStdio";
    case Type::kStdioFlushed: return "StdioFlushed";
    case Type::kKillThread: return "KillThread";
    case Type::kDetachThread: return "DetachThread";
    case Type::kCensusQuery: return "CensusQuery";
    case Type::kCensusReply: return "CensusReply";
    case Type::kSemNameOp: return "SemNameOp";
    case Type::kSemNameResult: return "SemNameResult";
    case Type::kSignalAction: return "SignalAction";
    case Type::kProcessSignalProbe: return "ProcessSignalProbe";
    case Type::kProcessSignalTaker: return "ProcessSignalTaker";
    case Type::kProcessSignal: return "ProcessSignal";
    case Type::kKeyReply: return "KeyReply";
    case Type::kKeyOp: return "KeyOp";
    case Type::kRwCancel: return "RwCancel";
    case Type::kRwRelease: return "RwRelease";
    case Type::kRwGranted: return "RwGranted";
    case Type::kRwRequest: return "RwRequest";
    case Type::kSemValue: return "SemValue";
    case Type::kSemValueQuery: return "SemValueQuery";
    case Type::kSemCancel: return "SemCancel";
    case Type::kSemPost: return "SemPost";
    case Type::kSemGranted: return "SemGranted";
    case Type::kSemWait: return "SemWait";
    case Type::kCondCancel: return "CondCancel";
    case Type::kCondWake: return "CondWake";
    case Type::kCondSignal: return "CondSignal";
    case Type::kCondEnqueued: return "CondEnqueued";
    case Type::kCondEnqueue: return "CondEnqueue";
    case Type::kBarrierWaitRequest: return "BarrierWaitRequest";
    case Type::kBarrierWaitDone: return "BarrierWaitDone";
    case Type::kBarrierRecall: return "BarrierRecall";
    case Type::kLockReturn: return "LockReturn";
    case Type::kLockKept: return "LockKept";
    case Type::kLockBusy: return "LockBusy";
    case Type::kLockUnlock: return "LockUnlock";
    case Type::kLockUnlocked: return "LockUnlocked";
    case Type::kLockRecall: return "LockRecall";
    case Type::kLockGrant: return "LockGrant";
    case Type::kLockRequest: return "LockRequest";
  }
  return "?";
}

std::vector<std::byte> encode(NodeId from, const Message& m) {
  std::vector<std::byte> out(kHeaderBytes);
  const std::uint32_t magic = kMagic;
  const std::uint16_t version = kVersion;
  const auto type = static_cast<std::uint16_t>(type_of(m));
  std::memcpy(out.data(), &magic, 4);
  std::memcpy(out.data() + 4, &version, 2);
  std::memcpy(out.data() + 6, &type, 2);
  std::memcpy(out.data() + 8, &from, 4);
  VectorBuf buf(out);
  std::ostream os(&buf);
  {
    cereal::BinaryOutputArchive ar(os);
    std::visit(Writer{ar}, m);
  }
  return out;
}

std::variant<Envelope, DecodeError> decode(std::span<const std::byte> frame) {
  if (frame.size() < kHeaderBytes) return DecodeError::kTooShort;
  if (read_le<std::uint32_t>(frame.data()) != kMagic) return DecodeError::kBadMagic;
  if (read_le<std::uint16_t>(frame.data() + 4) != kVersion) return DecodeError::kBadVersion;
  auto body = empty_message(read_le<std::uint16_t>(frame.data() + 6));
  if (!body) return DecodeError::kUnknownType;
  Envelope env{read_le<std::uint32_t>(frame.data() + 8), std::move(*body)};
  SpanBuf in(frame.subspan(kHeaderBytes));
  try {
    std::istream is(&in);
    cereal::BinaryInputArchive ar(is);
    std::visit(Reader{ar, in}, env.body);
  } catch (...) {  // cereal::Exception, BoundExceeded, bad_alloc: all mean "bad frame"
    return DecodeError::kMalformed;
  }
  if (in.remaining() != 0) return DecodeError::kTrailingBytes;
  return env;
}

}  // namespace gpt::wire
