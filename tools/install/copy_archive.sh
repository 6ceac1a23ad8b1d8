#!/bin/sh
# copy_archive.sh IN OUT: OUT becomes a self-contained copy of the static
# library IN. Meson makes the static libraries it does not install itself
# thin archives (their members named by path in the build tree), which would
# be useless installed as they are.
set -eu
rm -f "$2"
ar t "$1" | xargs -d '\n' ar rcs "$2"
