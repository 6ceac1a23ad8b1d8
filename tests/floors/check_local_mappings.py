#!/usr/bin/env python3
"""Fails when the in-process runtime calls the mmap family by name.

The program's mmap, munmap, mremap, mprotect, madvise, msync, brk and sbrk are
gpthread's (libc-shim/program_mappings.cc): they turn anonymous mappings
into global memory. musl programs link with --wrap for them, which also
redirects the runtime's own references, and libgpthread.so exports them
ahead of the libc, so a call by name from the runtime would hand its private
memory (caches, stacks, bookkeeping) to the program's allocator. The
runtime maps with base/local_memory.h (the raw system call) instead.

usage: check_local_mappings.py SOURCE_ROOT
"""

import os
import re
import sys

RUNTIME = ["base", "libgalloc", "libc-shim", "libgpthread"]
# The wrappers themselves.
ALLOWED = {os.path.join("libc-shim", "program_mappings.cc")}
CALL = re.compile(r"(?<![\w.:>])(mmap|mmap64|munmap|mremap|mprotect|madvise|msync|brk|sbrk)\s*\(")
COMMENT = re.compile(r"//.*$|/\*.*?\*/")


def problems(root):
    for top in RUNTIME:
        for folder, _, names in os.walk(os.path.join(root, top)):
            for name in sorted(names):
                if not name.endswith((".h", ".cc", ".c")):
                    continue
                path = os.path.join(folder, name)
                rel = os.path.relpath(path, root)
                if rel in ALLOWED:
                    continue
                with open(path, encoding="utf-8", errors="replace") as f:
                    for number, line in enumerate(f, 1):
                        code = COMMENT.sub("", line)
                        # String literals (messages) are not calls.
                        code = re.sub(r'"(\\.|[^"\\])*"', '""', code)
                        match = CALL.search(code)
                        if match:
                            yield f"{rel}:{number}: calls {match.group(1)}() by name; use base/local_memory.h"


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    found = list(problems(sys.argv[1]))
    for p in found:
        print(p)
    if found:
        print(f"{len(found)} call(s) of the program's mmap family inside the runtime", file=sys.stderr)
        return 1
    print("the runtime maps its own memory with the raw system call only")
    return 0


if __name__ == "__main__":
    sys.exit(main())
