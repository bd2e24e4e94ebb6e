#!/usr/bin/env bash
# Runs COMMAND as on a machine that has Node and npm but not the native build's development files:
# in a private mount namespace, /usr/include and the multiarch library folder are overlaid and the
# ISA-L, zstd and zlib headers, pkg-config files, static archives and linker .so links are deleted
# from the overlay only (nothing on disk changes; the runtime libraries stay, as on a user's machine).
# The README's install and test commands are checked under it (scripts/ci-fresh-machine.sh). Needs root.
# usage: scripts/without-dev-files.sh COMMAND [ARGS...]
set -euo pipefail
[[ $# -gt 0 ]] || { echo "usage: scripts/without-dev-files.sh COMMAND [ARGS...]" >&2; exit 2; }
[[ $(id -u) == 0 ]] || { echo "without-dev-files: needs root (unshare -m and overlay mounts)" >&2; exit 2; }
multiarch=$(gcc -print-multiarch 2>/dev/null || dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || echo x86_64-linux-gnu)
exec unshare --mount --propagation private bash -c '
  set -euo pipefail
  # overlay DIR NAME...: DIR becomes an overlay whose upper layer deletes each NAME (a whiteout).
  overlay() {
    local dir=$1; shift
    local scratch; scratch=$(mktemp -d "${TMPDIR:-/tmp}/without-dev-files.XXXXXX")
    mkdir "$scratch/upper" "$scratch/work"
    mount -t overlay none -o "lowerdir=$dir,upperdir=$scratch/upper,workdir=$scratch/work" "$dir"
    local name; for name in "$@"; do rm -rf -- "${dir:?}/$name"; done
  }
  overlay /usr/include isa-l.h isa-l zstd.h zstd_errors.h zdict.h zlib.h zconf.h
  overlay "/usr/lib/$0" libisal.a libisal.so libzstd.a libzstd.so libz.a libz.so \
    pkgconfig/libisal.pc pkgconfig/libzstd.pc pkgconfig/zlib.pc
  exec "$@"' "$multiarch" "$@"  # $0 of the inner shell is the multiarch name
