#include "exe_windows.h"

#include <elf.h>
#include <errno.h>
#include <link.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>

#include "coherence.h"
#include "diag.h"
#include "local_memory.h"
#include "runtime.h"

namespace gpt::galloc::exe_windows {
namespace {

constexpr std::uintptr_t kPage = region::kPageSize;

// What node 0 publishes: where each loaded object (the executable first)
// sits. A page of the global space homed at node 0.
struct LoadedObject {
  std::uint64_t base;
  char name[56];  // the tail of its path: enough to tell libraries apart
};
struct Layout {
  std::uint64_t magic;
  std::uint32_t count;
  std::uint32_t truncated;  // more objects than fit: only the first are compared
  // Each shared range's bytes as loaded and relocated, before anything ran.
  std::uint64_t image_hash[kMaxRanges];
  LoadedObject objects[63];
};
static_assert(sizeof(Layout) <= kPage);
constexpr std::uint64_t kLayoutMagic = 0x74756f79616c7067ull;  // "gplayout"
// Below the heap, where nothing else of the runtime maps.
constexpr std::uintptr_t kLayoutPageBelowHeap = 16 * kPage;

// Set once before the program runs, in the runtime's own .bss.
struct Request {
  bool active = false;
  std::uintptr_t load_base = 0;
  int count = 0;
  Range ranges[kMaxRanges];
  std::uint64_t image_hash[kMaxRanges] = {};
  std::uintptr_t layout_page = 0;
} g_request;

// FNV-1a over a range of this process's memory.
std::uint64_t hash_of(std::uintptr_t start, std::size_t bytes) {
  std::uint64_t h = 0xcbf29ce484222325ull;
  const auto* p = reinterpret_cast<const unsigned char*>(start);
  for (std::size_t i = 0; i < bytes; ++i) h = (h ^ p[i]) * 0x100000001b3ull;
  return h;
}

struct Executable {
  std::uintptr_t base = 0;
  const ElfW(Phdr)* phdr = nullptr;
  int phnum = 0;
};

Executable find_executable() {
  Executable exe;
  dl_iterate_phdr(
      [](dl_phdr_info* info, std::size_t, void* out) -> int {
        auto* e = static_cast<Executable*>(out);
        e->base = info->dlpi_addr;
        e->phdr = info->dlpi_phdr;
        e->phnum = info->dlpi_phnum;
        return 1;  // the executable comes first: stop there
      },
      &exe);
  return exe;
}

bool is_writable_page_range(const Executable& exe, const Range& r) {
  for (int i = 0; i < exe.phnum; ++i) {
    const ElfW(Phdr)& p = exe.phdr[i];
    if (p.p_type != PT_LOAD || !(p.p_flags & PF_W)) continue;
    const std::uintptr_t start = p.p_vaddr & ~(kPage - 1);
    const std::uintptr_t end = (p.p_vaddr + p.p_memsz + kPage - 1) & ~(kPage - 1);
    if (r.start >= start && r.end <= end) return true;
  }
  return false;
}

void copy_tail(char (&into)[56], const char* path) {
  std::size_t n = std::strlen(path);
  const char* from = n >= sizeof into ? path + n - (sizeof into - 1) : path;
  std::size_t len = std::strlen(from);
  std::memcpy(into, from, len);
  into[len] = '\0';
}

// This process's layout: the executable (named "the program") and every
// library, without the vDSO (the kernel's, not the program's: its address
// may differ between kernels, and nothing of it is shared).
void describe_self(Layout& out) {
  std::memset(&out, 0, sizeof out);
  out.magic = kLayoutMagic;
  for (int i = 0; i < kMaxRanges; ++i) out.image_hash[i] = g_request.image_hash[i];
  dl_iterate_phdr(
      [](dl_phdr_info* info, std::size_t, void* arg) -> int {
        auto* l = static_cast<Layout*>(arg);
        const char* name = info->dlpi_name ? info->dlpi_name : "";
        if (l->count > 0 && (!*name || std::strncmp(name, "linux-vdso", 10) == 0)) return 0;
        if (l->count == sizeof l->objects / sizeof l->objects[0]) {
          l->truncated = 1;
          return 1;
        }
        LoadedObject& o = l->objects[l->count++];
        o.base = info->dlpi_addr;
        copy_tail(o.name, l->count == 1 ? "the program" : name);
        return 0;
      },
      &out);
}

bool checking() { return g_request.active && rt::state().node_count > 1 && g_request.layout_page != 0; }

[[noreturn]] void differs(const char* what, const LoadedObject* there, const LoadedObject* here) {
  auto line = rt::diag();
  line.text("--preload: ").text(what);
  if (there) line.text(": on node 0 ").text(there->name).text(" is at ").hex(there->base);
  if (here) line.text(", on this node ").text(here->name).text(" is at ").hex(here->base);
  line.text(". Every node must load the same program and libraries at the same addresses: the same files, and "
            "the same stack limit (ulimit -s), on every host (docs/user-guide.md)");
  line.emit();
  _exit(2);
}

void compare_layout() {
  Layout self;
  describe_self(self);
  const auto* there = reinterpret_cast<const Layout*>(g_request.layout_page);
  if (there->magic != kLayoutMagic) differs("node 0 did not publish where it loaded the program", nullptr, nullptr);
  const std::uint32_t n = there->count < self.count ? there->count : self.count;
  for (std::uint32_t i = 0; i < n; ++i)
    if (there->objects[i].base != self.objects[i].base ||
        std::strncmp(there->objects[i].name, self.objects[i].name, sizeof self.objects[i].name) != 0)
      differs(i == 0 ? "the program is not at the same address on every node" : "a library is not at the same "
                                                                                  "address on every node",
              &there->objects[i], &self.objects[i]);
  if (there->count != self.count)
    differs("the nodes did not load the same number of libraries", nullptr, nullptr);
  // Sharing a page is sound only if every node's copy starts the same: the
  // GOT in it holds the addresses libc's resolvers chose for this host's
  // CPU, and the libc data copied into it this node's values.
  for (int i = 0; i < g_request.count; ++i)
    if (there->image_hash[i] != self.image_hash[i]) {
      rt::diag()
          .text("--preload: the program's writable pages at ")
          .hex(g_request.load_base + g_request.ranges[i].start)
          .text("..")
          .hex(g_request.load_base + g_request.ranges[i].end)
          .text(" did not start the same here as on node 0, so they cannot be shared: their GOT holds other "
                "addresses (libc chose other routines for this host's CPU?) or the program files differ. "
                "Run on hosts of one kind (docs/user-guide.md)")
          .emit();
      _exit(2);
    }
}

}  // namespace

void request(const Range* ranges, int count) {
  if (count > kMaxRanges) rt::die("--preload: more executable windows than the runtime supports", 2);
  const Executable exe = find_executable();
  if (!exe.phdr) rt::die("--preload: cannot find the executable's program headers", 2);
  g_request.active = true;
  g_request.load_base = exe.base;
  for (int i = 0; i < count; ++i) {
    if (ranges[i].start % kPage || ranges[i].end % kPage || ranges[i].end <= ranges[i].start ||
        !is_writable_page_range(exe, ranges[i])) {
      rt::diag()
          .text("--preload: the pages to share (")
          .hex(ranges[i].start)
          .text("..")
          .hex(ranges[i].end)
          .text(") are not writable pages of this program: was another program started than the one "
                "gpt-launch checked?")
          .emit();
      _exit(2);
    }
    g_request.ranges[g_request.count++] = ranges[i];
  }
}

bool requested() { return g_request.active; }

int add_windows(region::Window* windows, int used, int capacity, std::uintptr_t heap_base) {
  if (!g_request.active) return used;
  if (used + g_request.count + 1 > capacity) rt::die("--preload: no room for the executable's windows", 2);
  for (int i = 0; i < g_request.count; ++i) {
    windows[used++] = {g_request.load_base + g_request.ranges[i].start,
                       g_request.ranges[i].end - g_request.ranges[i].start};
    // Before the window replaces them: the image this node loaded.
    if (rt::state().node_count > 1) g_request.image_hash[i] = hash_of(windows[used - 1].base, windows[used - 1].bytes);
  }
  if (rt::state().node_count > 1) {
    const std::uintptr_t at = heap_base - kLayoutPageBelowHeap;
    void* p = rt::map_local(reinterpret_cast<void*>(at), kPage, PROT_READ | PROT_WRITE,
                            MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    if (p != reinterpret_cast<void*>(at)) {
      rt::diag().text("--preload: cannot map the layout page at ").hex(at).text(" [errno ").num(errno).text("]").emit();
      _exit(2);
    }
    g_request.layout_page = at;
    windows[used++] = {at, kPage};
  }
  return used;
}

void publish_layout() {
  if (!checking() || rt::state().node_id != 0) return;
  Layout self;
  describe_self(self);
  std::memcpy(reinterpret_cast<void*>(g_request.layout_page), &self, sizeof self);
}

void check_layout() {
  if (!checking()) return;
  if (rt::state().node_id != 0) compare_layout();
  // No node goes on (node 0 to main) until every node has found its layout
  // the same: one that did not ends, and the job with it.
  barrier_all();
}

}  // namespace gpt::galloc::exe_windows
