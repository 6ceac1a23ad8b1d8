// Whether a program was built for gpthread. Every node starts the same
// binary; one linked by gpt-cc/gpt-c++ runs main on node 0 only and waits
// for threads elsewhere, but any other program would simply run once per
// node (N copies of its side effects) and then look like a node that ended
// early. gpt-cc's link script (tools/gpt-globals.ld) always adds the
// sections .gpt_data and .gpt_bss, even to a program without globals, and
// strip keeps section headers: their presence is the mark looked for.
#pragma once

#include <optional>
#include <string>

namespace gpt::launch {

// nullopt if `path` is an ELF executable with gpt-cc's sections; else why
// it cannot be run across nodes, for a one-line error.
[[nodiscard]] std::optional<std::string> check_gpthread_program(const std::string& path);

}  // namespace gpt::launch
