#include "preload.h"

#include <elf.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <set>

#include "process.h"
#include "program_check.h"

#ifndef GPT_PRELOAD_LIB_FROM_BINDIR
#error "the build names where libgpthread.so is installed relative to gpt-launch"
#endif

namespace gpt::launch {
namespace {

constexpr std::uint64_t kPage = 4096;
constexpr std::uint64_t page_down(std::uint64_t a) { return a & ~(kPage - 1); }
constexpr std::uint64_t page_up(std::uint64_t a) { return (a + kPage - 1) & ~(kPage - 1); }

std::string hex(std::uint64_t v) {
  char text[32];
  std::snprintf(text, sizeof text, "%#llx", static_cast<unsigned long long>(v));
  return text;
}

// Objects the executable takes over from libc by copy relocation (they live
// in its .bss) that may share a page with the program's own globals: their
// values are the same on every node by construction. stdin/stdout/stderr
// point at libc's FILE objects, at the same address on every node (checked
// at attach); getopt's variables start with the same values everywhere and
// only the program's own getopt calls change them, like any global of its.
// Everything else (environ, __progname, program_invocation_name, tzname...)
// is written by each node's libc with values of its own: per node.
bool same_on_every_node(const std::string& name) {
  static const std::set<std::string> names = {"stdin", "stdout", "stderr", "optind", "opterr", "optopt", "optarg"};
  return names.contains(name);
}

// The executable file, read piecewise (a program may be large).
class ElfFile {
 public:
  explicit ElfFile(const std::string& path) : fd_(open(path.c_str(), O_RDONLY | O_CLOEXEC)) {}
  ~ElfFile() {
    if (fd_ >= 0) close(fd_);
  }
  ElfFile(const ElfFile&) = delete;
  ElfFile& operator=(const ElfFile&) = delete;

  [[nodiscard]] bool is_open() const { return fd_ >= 0; }

  [[nodiscard]] bool read_at(void* into, std::size_t n, std::uint64_t offset) const {
    auto* p = static_cast<char*>(into);
    while (n > 0) {
      ssize_t r = pread(fd_, p, n, static_cast<off_t>(offset));
      if (r <= 0) return false;
      p += r;
      n -= static_cast<std::size_t>(r);
      offset += static_cast<std::uint64_t>(r);
    }
    return true;
  }

  template <typename T>
  [[nodiscard]] bool read_array(std::vector<T>& out, std::size_t count, std::uint64_t offset) const {
    constexpr std::size_t kMaxEntries = 1u << 24;  // a corrupt header must not make us read GiBs
    if (count > kMaxEntries) return false;
    out.resize(count);
    return count == 0 || read_at(out.data(), count * sizeof(T), offset);
  }

  // A NUL-terminated string at `offset`, at most `limit` bytes.
  [[nodiscard]] std::string string_at(std::uint64_t offset, std::size_t limit = 4096) const {
    std::string s(limit, '\0');
    ssize_t r = pread(fd_, s.data(), limit, static_cast<off_t>(offset));
    if (r <= 0) return {};
    s.resize(static_cast<std::size_t>(r));
    s.resize(std::strlen(s.c_str()));
    return s;
  }

 private:
  int fd_;
};

struct Program {
  Elf64_Ehdr header{};
  std::vector<Elf64_Phdr> segments;
  std::vector<Elf64_Dyn> dynamic;

  // The file offset of a link-time address inside a loaded segment's file bytes.
  [[nodiscard]] std::optional<std::uint64_t> offset_of(std::uint64_t vaddr) const {
    for (const auto& s : segments)
      if (s.p_type == PT_LOAD && vaddr >= s.p_vaddr && vaddr < s.p_vaddr + s.p_filesz)
        return s.p_offset + (vaddr - s.p_vaddr);
    return std::nullopt;
  }
  [[nodiscard]] std::optional<std::uint64_t> dynamic_value(std::int64_t tag) const {
    for (const auto& d : dynamic)
      if (d.d_tag == tag) return d.d_un.d_val;
    return std::nullopt;
  }
};

// An object copied into the executable by an R_X86_64_COPY relocation.
struct CopiedObject {
  std::string name;
  std::uint64_t start = 0;
  std::uint64_t size = 0;
};

std::optional<std::vector<CopiedObject>> copied_objects(const ElfFile& file, const Program& program) {
  std::vector<CopiedObject> out;
  auto rela = program.dynamic_value(DT_RELA);
  auto rela_bytes = program.dynamic_value(DT_RELASZ);
  if (!rela || !rela_bytes) return out;  // no data relocations, so no copies
  auto symtab = program.dynamic_value(DT_SYMTAB);
  auto strtab = program.dynamic_value(DT_STRTAB);
  auto rela_at = program.offset_of(*rela);
  if (!symtab || !strtab || !rela_at) return std::nullopt;
  auto sym_at = program.offset_of(*symtab);
  auto str_at = program.offset_of(*strtab);
  if (!sym_at || !str_at) return std::nullopt;
  std::vector<Elf64_Rela> relocations;
  if (!file.read_array(relocations, *rela_bytes / sizeof(Elf64_Rela), *rela_at)) return std::nullopt;
  for (const auto& r : relocations) {
    if (ELF64_R_TYPE(r.r_info) != R_X86_64_COPY) continue;
    Elf64_Sym sym;
    if (!file.read_at(&sym, sizeof sym, *sym_at + ELF64_R_SYM(r.r_info) * sizeof(Elf64_Sym))) return std::nullopt;
    out.push_back({file.string_at(*str_at + sym.st_name, 256), r.r_offset, std::max<std::uint64_t>(sym.st_size, 1)});
  }
  return out;
}

// The program's own named objects (from .symtab, if the program was not
// stripped) by address: to name the globals of a page kept per node.
std::map<std::uint64_t, std::string> own_objects(const ElfFile& file, const Program& program) {
  std::map<std::uint64_t, std::string> out;
  const Elf64_Ehdr& eh = program.header;
  if (eh.e_shoff == 0 || eh.e_shentsize != sizeof(Elf64_Shdr) || eh.e_shnum == 0) return out;
  std::vector<Elf64_Shdr> sections;
  if (!file.read_array(sections, eh.e_shnum, eh.e_shoff)) return out;
  for (const auto& s : sections) {
    if (s.sh_type != SHT_SYMTAB || s.sh_link >= sections.size() || s.sh_entsize != sizeof(Elf64_Sym)) continue;
    std::vector<Elf64_Sym> symbols;
    if (!file.read_array(symbols, s.sh_size / sizeof(Elf64_Sym), s.sh_offset)) return out;
    const Elf64_Shdr& names = sections[s.sh_link];
    for (const auto& sym : symbols)
      if (ELF64_ST_TYPE(sym.st_info) == STT_OBJECT && sym.st_shndx != SHN_UNDEF && sym.st_name < names.sh_size)
        out.emplace(sym.st_value, file.string_at(names.sh_offset + sym.st_name, 256));
  }
  return out;
}

// The names the executable needs from its libraries (its undefined dynamic
// symbols), from the section table; empty if it has none (a stripped-down
// file), which only skips the warnings they feed.
std::vector<std::string> imported_names(const ElfFile& file, const Program& program) {
  std::vector<std::string> out;
  const Elf64_Ehdr& eh = program.header;
  if (eh.e_shoff == 0 || eh.e_shentsize != sizeof(Elf64_Shdr) || eh.e_shnum == 0) return out;
  std::vector<Elf64_Shdr> sections;
  if (!file.read_array(sections, eh.e_shnum, eh.e_shoff)) return out;
  for (const auto& s : sections) {
    if (s.sh_type != SHT_DYNSYM || s.sh_link >= sections.size() || s.sh_entsize != sizeof(Elf64_Sym)) continue;
    std::vector<Elf64_Sym> symbols;
    if (!file.read_array(symbols, s.sh_size / sizeof(Elf64_Sym), s.sh_offset)) return out;
    const Elf64_Shdr& names = sections[s.sh_link];
    for (const auto& sym : symbols)
      if (sym.st_shndx == SHN_UNDEF && sym.st_name != 0 && sym.st_name < names.sh_size)
        out.push_back(file.string_at(names.sh_offset + sym.st_name, 256));
  }
  return out;
}

// Calls the preloaded runtime cannot take over: glibc implements C11
// threads inside libc on its own pthreads (internal calls, never looked up
// by name), and the __pthread_* aliases are libc's own entry points. The
// pthread_*attr_* calls, pthread_mutex_destroy and the like stay libc's too,
// harmlessly: they work on the objects' glibc layout, which gpthread keeps,
// exactly as in programs gpt-cc links against libgpthread.so.
std::vector<std::string> unreachable_warnings(const std::vector<std::string>& imported) {
  static const std::set<std::string> c11 = {"thrd_create", "thrd_join", "thrd_detach", "thrd_exit", "mtx_init",
                                            "mtx_lock", "mtx_timedlock", "mtx_trylock", "mtx_unlock", "cnd_init",
                                            "cnd_wait", "cnd_timedwait", "cnd_signal", "cnd_broadcast", "call_once",
                                            "tss_create", "tss_get", "tss_set"};
  std::string c11_used, aliases_used;
  for (const auto& name : imported) {
    if (c11.contains(name)) c11_used += (c11_used.empty() ? "" : ", ") + name;
    // __pthread_register_cancel & co. (pthread_cleanup_push) are the runtime's.
    if (name.rfind("__pthread_", 0) == 0 && name.find("cancel") == std::string::npos && name != "__pthread_unwind_next")
      aliases_used += (aliases_used.empty() ? "" : ", ") + name;
  }
  std::vector<std::string> out;
  if (!c11_used.empty())
    out.push_back("the program uses C11 threads (" + c11_used +
                  "), which glibc implements inside libc where a preloaded runtime cannot reach them: those "
                  "threads and locks stay on node 0, unseen by gpthread. Threads meant for other nodes must be pthreads");
  if (!aliases_used.empty())
    out.push_back("the program calls glibc's internal pthread entry points (" + aliases_used +
                  "): they stay glibc's and do not work on gpthread's threads, keys and locks");
  return out;
}

// Objects of the C run-time's start files, not the program's.
bool toolchain_object(const std::string& name) {
  static const std::set<std::string> names = {"__dso_handle", "__TMC_END__", "completed.0", "data_start",
                                              "__data_start"};
  return names.contains(name);
}

std::string refuse(const std::string& path, const std::string& why) { return "--preload: '" + path + "' " + why; }

}  // namespace

PreloadAnalysis analyse_for_preload(const std::string& path) {
  PreloadAnalysis result;
  ElfFile file(path);
  if (!file.is_open()) {
    result.error = "cannot read '" + path + "': " + std::strerror(errno);
    return result;
  }
  Program program;
  Elf64_Ehdr& eh = program.header;
  if (!file.read_at(&eh, sizeof eh, 0) || std::memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 ||
      eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_ident[EI_DATA] != ELFDATA2LSB || eh.e_machine != EM_X86_64 ||
      (eh.e_type != ET_EXEC && eh.e_type != ET_DYN) || eh.e_phentsize != sizeof(Elf64_Phdr)) {
    result.error = refuse(path, "is not a 64-bit x86-64 ELF program (a script?)");
    return result;
  }
  if (struct stat st; stat(path.c_str(), &st) == 0 && (st.st_mode & (S_ISUID | S_ISGID))) {
    result.error = refuse(path, "is set-user-ID or set-group-ID: the loader ignores LD_PRELOAD for it, so it would "
                                "run once on every node");
    return result;
  }
  if (!check_gpthread_program(path)) {
    result.error = refuse(path, "was built with gpt-cc: it has the runtime already; run it without --preload");
    return result;
  }
  if (!file.read_array(program.segments, eh.e_phnum, eh.e_phoff)) {
    result.error = refuse(path, "has a program header table that does not read back");
    return result;
  }
  const Elf64_Phdr* interp = nullptr;
  const Elf64_Phdr* dynamic = nullptr;
  const Elf64_Phdr* relro = nullptr;
  for (const auto& s : program.segments) {
    if (s.p_type == PT_INTERP) interp = &s;
    if (s.p_type == PT_DYNAMIC) dynamic = &s;
    if (s.p_type == PT_GNU_RELRO) relro = &s;
  }
  if (!interp || !dynamic) {
    result.error = refuse(path,
                          "is statically linked: nothing can be preloaded into it, so its threads cannot be "
                          "placed on other nodes. Rebuild it with gpt-cc -static (docs/user-guide.md)");
    return result;
  }
  const std::string loader = file.string_at(interp->p_offset, std::min<std::uint64_t>(interp->p_filesz, 4096));
  if (loader.find("ld-linux-x86-64.so.2") == std::string::npos) {
    result.error = refuse(path, "is not a glibc program (its loader is " + loader +
                                    "): --preload needs glibc's. Rebuild it with gpt-cc (docs/user-guide.md)");
    return result;
  }
  if (!file.read_array(program.dynamic, dynamic->p_filesz / sizeof(Elf64_Dyn), dynamic->p_offset)) {
    result.error = refuse(path, "has a dynamic section that does not read back");
    return result;
  }
  bool needs_libc = false;
  if (auto strtab = program.dynamic_value(DT_STRTAB); auto str_at = strtab ? program.offset_of(*strtab) : std::nullopt)
    for (const auto& d : program.dynamic)
      if (d.d_tag == DT_NEEDED && file.string_at(*str_at + d.d_un.d_val, 256) == "libc.so.6") needs_libc = true;
  if (!needs_libc) {
    result.error = refuse(path, "is not linked against glibc's libc.so.6: --preload needs glibc. Rebuild it "
                                "with gpt-cc (docs/user-guide.md)");
    return result;
  }
  auto copies = copied_objects(file, program);
  if (!copies) {
    result.error = refuse(path, "has dynamic relocations that do not read back");
    return result;
  }

  // Page by page (docs/user-guide.md): shared unless read-only after
  // relocation (RELRO: the GOT, .dynamic, .init_array...) or holding a copy
  // of libc's data whose value is this node's own.
  const std::uint64_t relro_start = relro ? page_down(relro->p_vaddr) : 0;
  const std::uint64_t relro_end = relro ? page_down(relro->p_vaddr + relro->p_memsz) : 0;
  std::map<std::uint64_t, std::vector<std::string>> per_node_pages;  // page -> the copies that make it so
  for (const auto& c : *copies)
    if (!same_on_every_node(c.name))
      for (std::uint64_t p = page_down(c.start); p < c.start + c.size; p += kPage) per_node_pages[p].push_back(c.name);
  std::vector<PageRange> runs;
  std::map<std::uint64_t, std::string> objects;
  bool objects_read = false;
  PreloadPlan plan;
  plan.warnings = unreachable_warnings(imported_names(file, program));
  for (const auto& s : program.segments) {
    if (s.p_type != PT_LOAD || !(s.p_flags & PF_W) || s.p_memsz == 0) continue;
    for (std::uint64_t p = page_down(s.p_vaddr); p < page_up(s.p_vaddr + s.p_memsz); p += kPage) {
      if (p >= relro_start && p < relro_end) continue;
      if (auto it = per_node_pages.find(p); it != per_node_pages.end()) {
        if (!objects_read) {
          objects = own_objects(file, program);
          objects_read = true;
        }
        std::string own;
        for (auto o = objects.lower_bound(p); o != objects.end() && o->first < p + kPage; ++o) {
          bool is_copy = false;
          for (const auto& c : *copies) is_copy |= c.start == o->first;
          if (!is_copy && !o->second.empty() && !toolchain_object(o->second))
            own += (own.empty() ? "" : ", ") + o->second;
        }
        std::string copies_named;
        for (const auto& n : it->second) copies_named += (copies_named.empty() ? "" : ", ") + n;
        plan.warnings.push_back("the page at " + hex(p) + " holds libc's '" + copies_named +
                                "' (copied into the program, a value of each node's own): it stays per node, so "
                                "the program's globals in it" + (own.empty() ? "" : " (" + own + ")") +
                                " are not shared between nodes");
        continue;
      }
      if (!runs.empty() && runs.back().end == p)
        runs.back().end = p + kPage;
      else
        runs.push_back({p, p + kPage});
    }
  }
  // More separate runs than windows: the largest are shared, the rest stay
  // per node (said so).
  std::sort(runs.begin(), runs.end(), [](const PageRange& a, const PageRange& b) {
    return a.end - a.start > b.end - b.start;
  });
  for (std::size_t i = kMaxSharedRuns; i < runs.size(); ++i)
    plan.warnings.push_back("the globals at " + hex(runs[i].start) + ".." + hex(runs[i].end) +
                            " stay per node: the program's writable pages fall in more than " +
                            std::to_string(kMaxSharedRuns) + " separate runs");
  if (runs.size() > kMaxSharedRuns) runs.resize(kMaxSharedRuns);
  std::sort(runs.begin(), runs.end(), [](const PageRange& a, const PageRange& b) { return a.start < b.start; });
  plan.shared = runs;
  result.plan = plan;
  return result;
}

std::string share_spec(const PreloadPlan& plan) {
  std::string spec;
  char part[64];
  for (const auto& r : plan.shared) {
    std::snprintf(part, sizeof part, "%s%llx-%llx", spec.empty() ? "" : ",", static_cast<unsigned long long>(r.start),
                  static_cast<unsigned long long>(r.end));
    spec += part;
  }
  return spec.empty() ? "none" : spec;
}

std::optional<std::string> find_preload_library() {
  const std::string here = util::self_directory();
  std::string installed = GPT_PRELOAD_LIB_FROM_BINDIR;  // absolute if libdir is outside the prefix
  if (installed.front() != '/') installed = here + "/" + installed;
  for (const std::string& candidate : {here + "/../libgpthread/glibc/libgpthread.so", installed}) {
    std::error_code ec;
    if (std::filesystem::is_regular_file(candidate, ec)) return std::filesystem::canonical(candidate, ec).string();
  }
  return std::nullopt;
}

std::optional<std::string> prepare_preload(const std::string& program) {
  PreloadAnalysis analysis = analyse_for_preload(program);
  if (!analysis.plan) return analysis.error;
  auto library = find_preload_library();
  if (!library)
    return "--preload: cannot find libgpthread.so next to gpt-launch (" + util::self_directory() + ")";
  for (const auto& w : analysis.plan->warnings) std::fprintf(stderr, "gpt-launch: warning: %s\n", w.c_str());
  // GPT_* settings reach the agents, remote ones too (node_processes.cc).
  setenv("GPT_PRELOAD", library->c_str(), 1);
  setenv("GPT_PRELOAD_SHARE", share_spec(*analysis.plan).c_str(), 1);
  return std::nullopt;
}

}  // namespace gpt::launch
