#!/usr/bin/env bash
# run_install_test.sh BUILD_DIR SOURCE_DIR PREFIX
# Installs the build into a temporary tree (meson install --destdir), moves
# the tree elsewhere (nothing installed may depend on where it is), and uses
# it from outside the build tree as a user would: programs built with
# pkg-config, with the installed gpt-cc/gpt-c++ for both libcs, with Meson's
# dependency() and CMake's find_package(), each run on 2 nodes by the
# installed gpt-launch. Checks the man pages too.
set -euo pipefail
build=$(cd "$1" && pwd)
source=$(cd "$2" && pwd)
prefix=$3
here=$(cd "$(dirname "$0")" && pwd)

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
quietly() {  # runs a command, its output shown only if it fails
  local log
  log=$("$@" 2>&1) || fail "$* exited with $?: $log"
}

for tool in cmake groff pkg-config; do
  command -v "$tool" >/dev/null || fail "$tool is missing (./dev deps installs it)"
done

quietly meson install -C "$build" --destdir "$tmp/stage" --no-rebuild
root=$tmp/moved/gpthread
mkdir -p "$(dirname "$root")"
mv "$tmp/stage$prefix" "$root"
rm -rf "$tmp/stage"

# The layout users and the drivers rely on.
for file in bin/gpt-cc bin/gpt-c++ bin/gpt-launch bin/gpt-node include/gpthread/gpthread.h include/gpthread/galloc.h \
  share/man/man1/gpt-cc.1 share/man/man1/gpt-c++.1 share/man/man1/gpt-launch.1; do
  [ -e "$root/$file" ] || fail "$file not installed"
done
pc=$(find "$root" -name gpthread.pc)
cmake_config=$(find "$root" -name gpthreadConfig.cmake)
[ -n "$pc" ] || fail "gpthread.pc not installed"
[ -n "$cmake_config" ] || fail "gpthreadConfig.cmake not installed"
[ -e "$(dirname "$cmake_config")/gpthreadConfigVersion.cmake" ] || fail "gpthreadConfigVersion.cmake not installed"

# Nothing installed names the build or source tree: no text file, and no
# run path of an installed binary.
if named=$(grep -rIl -e "$build" -e "$source" "$root"); then
  fail "installed files name the build or source tree: $named"
fi
for elf in "$root/bin/gpt-launch" "$root/bin/gpt-node" "$(find "$root" -name libgpthread.so)"; do
  if readelf -d "$elf" | grep -E 'RPATH|RUNPATH'; then fail "$elf has a run path"; fi
done

# Man pages: well formed, and gpt-launch(1) documents every option of
# `gpt-launch --help`.
for page in gpt-cc gpt-launch; do
  warnings=$(groff -man -ww -z "$root/share/man/man1/$page.1" 2>&1)
  [ -z "$warnings" ] || fail "$page.1: $warnings"
done
grep -qx '\.so man1/gpt-cc\.1' "$root/share/man/man1/gpt-c++.1" || fail "gpt-c++.1 does not point at gpt-cc.1"
options=$("$root/bin/gpt-launch" --help | grep -oE '^ +(-[a-z], *)?--[a-z][a-z-]*' | grep -oE -- '--[a-z-]+')
[ -n "$options" ] || fail "no options read from gpt-launch --help"
for option in $options; do
  grep -qF -- "${option//-/\\-}" "$root/share/man/man1/gpt-launch.1" || fail "gpt-launch.1 does not document $option"
done

# Programs built outside the build tree, against the moved tree only.
work=$tmp/work
mkdir -p "$work"
cd "$work"
export PATH="$root/bin:$PATH"
export PKG_CONFIG_PATH
PKG_CONFIG_PATH=$(dirname "$pc")
cp "$here/counter.c" counter.c
cp counter.c counter.cc

run() {  # run NAME: runs ./NAME on 2 nodes with the installed launcher
  local out
  out=$(gpt-launch -n 2 --timeout 60 "./$1") || fail "$1: gpt-launch exited with $?"
  [ "$out" = "counter 4000 nodes 2 used 2" ] || fail "$1 printed '$out'"
  echo "ok: $1 on 2 nodes"
}
uses_installed_runtime() {  # NAME: a dynamic program loads the moved tree's libgpthread.so
  local libs
  libs=$(ldd "./$1")
  grep -qF "libgpthread.so => $root/" <<<"$libs" || fail "$1 does not load $root's libgpthread.so: $libs"
}

# shellcheck disable=SC2046 # pkg-config prints a list of flags
gcc -O2 -o with_pkg_config counter.c $(pkg-config --cflags --libs gpthread)
uses_installed_runtime with_pkg_config
run with_pkg_config
gpt-cc -O2 -o gpt_cc_glibc counter.c
uses_installed_runtime gpt_cc_glibc
run gpt_cc_glibc
gpt-cc -static -O2 -o gpt_cc_musl counter.c
run gpt_cc_musl
gpt-c++ -O2 -o gpt_cxx_glibc counter.cc
run gpt_cxx_glibc
gpt-c++ -static -O2 -o gpt_cxx_musl counter.cc
run gpt_cxx_musl
# A program gpt-cc never saw, run with --preload: the installed gpt-launch
# finds the moved tree's libgpthread.so to preload.
cp "$source/tests/programs/preload/counter.c" plain_counter.c
cp "$source/tests/programs/preload/node_of.h" node_of.h
gcc -O2 -pthread -o plain_counter plain_counter.c -ldl
out=$(gpt-launch --preload -n 2 --timeout 60 ./plain_counter) || fail "plain_counter: gpt-launch --preload exited with $?"
grep -qx "counter 16000 of 16000, threads ran on 2 nodes" <<<"$out" || fail "plain_counter printed '$out'"
echo "ok: plain_counter (plain gcc -pthread) with --preload on 2 nodes"

# The same program in a user's Meson and CMake projects.
cp -r "$here/meson_project" "$here/cmake" .
quietly meson setup meson_build meson_project
quietly meson compile -C meson_build
cp meson_build/counter with_meson
uses_installed_runtime with_meson
run with_meson

quietly cmake -S cmake -B cmake_build -DCMAKE_PREFIX_PATH="$root"
quietly cmake --build cmake_build
cp cmake_build/counter with_cmake
uses_installed_runtime with_cmake
run with_cmake
# The version file refuses what this version is not.
for wanted in 0.2 1.0; do
  if cmake -S cmake -B "cmake_$wanted" -DCMAKE_PREFIX_PATH="$root" -DGPTHREAD_WANTED="$wanted" >/dev/null 2>&1; then
    fail "find_package(gpthread $wanted) accepted version $(pkg-config --modversion gpthread)"
  fi
done
echo "ok: find_package(gpthread) refuses versions 0.2 and 1.0"
echo "ok: installed tree at a moved prefix works"
