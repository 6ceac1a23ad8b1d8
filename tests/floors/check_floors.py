#!/usr/bin/env python3
"""Fails when a floor of the in-process runtime reaches into a floor above it.

The floors, bottom to top (docs/architecture.md, "Floors"):

    common < base < libgalloc < libc-shim < libgpthread

A floor may include its own headers and those of the floors below it; what
it needs from above, the floor above hands down (a call with a callback, a
hook it registers). The build gives each floor only the include paths at or
below it, so most mistakes already fail to compile; this check says which
file and which include, and also catches what the compiler cannot: a path
relative to the file ("../../libgpthread/src/x.h") or a meson.build of a
lower floor that names a folder of a higher one.

usage: check_floors.py SOURCE_ROOT
"""

import os
import re
import sys

# name, the folder whose files make up the floor, the include paths the
# build gives to the floors at and above it (meson.build of each floor).
FLOORS = [
    ("common", "common", ["common"]),
    ("base", "base", ["base"]),
    ("libgalloc", "libgalloc", ["libgalloc/include", "libgalloc/src"]),
    ("libc-shim", "libc-shim", ["libc-shim"]),
    ("libgpthread", "libgpthread", ["libgpthread/include", "libgpthread/src", "libgpthread/src/threads"]),
]
ORDER = " < ".join(name for name, _, _ in FLOORS)
SOURCE_SUFFIXES = (".h", ".hpp", ".c", ".cc", ".S")
INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]')
MESON_STRING = re.compile(r"'([^']*)'")


def floor_of(root, path):
    """Index of the floor that holds `path` (absolute), or None."""
    rel = os.path.relpath(path, root)
    for index, (_, folder, _) in enumerate(FLOORS):
        if rel == folder or rel.startswith(folder + os.sep):
            return index
    return None


def resolve(root, dirs, name):
    for d in dirs:
        candidate = os.path.join(root, d, name)
        if os.path.isfile(candidate):
            return candidate
    return None


def include_problems(root, path, floor):
    """Each include of `path` (in floor `floor`) that names a higher floor."""
    allowed = [d for _, _, dirs in FLOORS[: floor + 1] for d in dirs]
    higher = [d for _, _, dirs in FLOORS[floor + 1 :] for d in dirs]
    with open(path, encoding="utf-8", errors="replace") as f:
        for number, line in enumerate(f, 1):
            m = INCLUDE.match(line)
            if not m:
                continue
            quote, name = m.groups()
            target = None
            if quote == '"':
                beside = os.path.normpath(os.path.join(os.path.dirname(path), name))
                if os.path.isfile(beside):
                    target = beside
            if target is None and resolve(root, allowed, name):
                continue  # what the compiler finds with this floor's include paths
            if target is None:
                target = resolve(root, higher, name)
            if target is None:
                continue  # a system or library header
            target_floor = floor_of(root, target)
            if target_floor is not None and target_floor > floor:
                yield number, name, target, target_floor


def meson_problems(root, path, floor):
    """Each path in a floor's meson.build that lies in a higher floor."""
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            code = line.split("#", 1)[0]
            for text in MESON_STRING.findall(code):
                if not text or "/" not in text and "." not in text:
                    continue
                target = os.path.normpath(os.path.join(os.path.dirname(path), text))
                if not os.path.exists(target):
                    continue
                target_floor = floor_of(root, target)
                if target_floor is not None and target_floor > floor:
                    yield number, text, target, target_floor


def main():
    if len(sys.argv) != 2:
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    root = os.path.abspath(sys.argv[1])
    problems = []
    checked = 0
    for floor, (name, folder, _) in enumerate(FLOORS):
        top = os.path.join(root, folder)
        if not os.path.isdir(top):
            problems.append(f"{folder}/: the folder of floor {name} is missing (update {__file__})")
            continue
        for dirpath, dirnames, filenames in os.walk(top):
            dirnames.sort()
            for filename in sorted(filenames):
                path = os.path.join(dirpath, filename)
                rel = os.path.relpath(path, root)
                if filename.endswith(SOURCE_SUFFIXES):
                    found, verb = include_problems(root, path, floor), "includes"
                elif filename == "meson.build":
                    found, verb = meson_problems(root, path, floor), "names"
                else:
                    continue
                checked += 1
                for line, what, target, target_floor in found:
                    problems.append(
                        f"{rel}:{line}: floor {name} {verb} \"{what}\", which is "
                        f"{os.path.relpath(target, root)} in floor {FLOORS[target_floor][0]}, above it")
    if problems:
        for p in problems:
            print(p, file=sys.stderr)
        print(f"\nA floor may use only itself and the floors below it ({ORDER}; "
              "docs/architecture.md, \"Floors\"). Call down instead, or have the floor "
              "above register a callback or pass one in.", file=sys.stderr)
        return 1
    print(f"floors: {checked} files checked, no floor reaches above itself ({ORDER})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
