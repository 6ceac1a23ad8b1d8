#include "program_check.h"

#include <elf.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace gpt::launch {
namespace {

// Reads exactly `n` bytes at `offset`.
bool read_at(int fd, void* into, std::size_t n, std::uint64_t offset) {
  auto* p = static_cast<char*>(into);
  while (n > 0) {
    ssize_t r = pread(fd, p, n, static_cast<off_t>(offset));
    if (r <= 0) return false;
    p += r;
    n -= static_cast<std::size_t>(r);
    offset += static_cast<std::uint64_t>(r);
  }
  return true;
}

// The section names of a 64-bit little-endian ELF file, or nullopt if it is
// not one (or its section table does not read back).
std::optional<std::vector<std::string>> section_names(int fd) {
  Elf64_Ehdr eh;
  if (!read_at(fd, &eh, sizeof eh, 0) || std::memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 ||
      eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_ident[EI_DATA] != ELFDATA2LSB ||
      eh.e_shentsize != sizeof(Elf64_Shdr))
    return std::nullopt;
  // A file is at most a few GiB; bound what a corrupt header can make us read.
  constexpr std::size_t kMaxSections = 1 << 16;
  std::size_t count = eh.e_shnum;
  std::size_t names_index = eh.e_shstrndx;
  if (count == 0 || names_index == SHN_XINDEX) {  // extended numbering: in section 0
    Elf64_Shdr first;
    if (eh.e_shoff == 0 || !read_at(fd, &first, sizeof first, eh.e_shoff)) return std::nullopt;
    if (count == 0) count = first.sh_size;
    if (names_index == SHN_XINDEX) names_index = first.sh_link;
  }
  if (count == 0 || count > kMaxSections || names_index >= count) return std::nullopt;
  std::vector<Elf64_Shdr> sections(count);
  if (!read_at(fd, sections.data(), count * sizeof(Elf64_Shdr), eh.e_shoff)) return std::nullopt;
  const Elf64_Shdr& strtab = sections[names_index];
  constexpr std::uint64_t kMaxNames = 16u << 20;
  if (strtab.sh_size == 0 || strtab.sh_size > kMaxNames) return std::nullopt;
  std::string names(strtab.sh_size, '\0');
  if (!read_at(fd, names.data(), names.size(), strtab.sh_offset)) return std::nullopt;
  names.push_back('\0');
  std::vector<std::string> out;
  for (const Elf64_Shdr& s : sections)
    if (s.sh_name < names.size()) out.emplace_back(names.c_str() + s.sh_name);
  return out;
}

}  // namespace

std::optional<std::string> check_gpthread_program(const std::string& path) {
  const std::string rebuild = ": it would run once on every node. Build it with gpt-cc or gpt-c++, or run a dynamically linked glibc program with --preload (docs/user-guide.md)";
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return "cannot read '" + path + "': " + std::strerror(errno);
  auto names = section_names(fd);
  close(fd);
  if (!names)
    return "'" + path + "' is not a 64-bit ELF program (a script?), so not one built with gpt-cc" + rebuild;
  for (const auto& n : *names)
    if (n == ".gpt_data" || n == ".gpt_bss") return std::nullopt;
  return "'" + path + "' was not built with gpt-cc (it has no gpthread runtime)" + rebuild;
}

}  // namespace gpt::launch
