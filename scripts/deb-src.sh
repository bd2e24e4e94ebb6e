# Sourced by the static library build scripts (build-isal-static.sh, build-isal-arm64.sh), which need
# `apt-get source`. Such machines have no deb-src entry, so one is added in a file of our own (the
# same file for both scripts, so they never disagree) and the system's sources are left untouched.
# The sourcing script defines die().

have_source() { apt-cache showsrc "$1" 2>/dev/null | grep -Fx "Version: $2" >/dev/null; }  # not grep -q: an early exit would SIGPIPE apt-cache and fail the pipe under pipefail

# ensure_deb_src PKG=VERSION...: returns once every source package is available; dies otherwise.
ensure_deb_src() {
  local spec missing=0
  for spec in "$@"; do have_source "${spec%%=*}" "${spec#*=}" || missing=1; done
  [[ $missing == 0 ]] && return 0
  [[ "$(id -u)" == 0 ]] || die "needs root once to add a deb-src entry and run apt-get update"
  local list=/etc/apt/sources.list.d/fastlayer-deb-src.sources
  # Rewritten each time (the file is ours): security updates (libzstd's +deb12u1) live in bookworm-security.
  cat >"$list" <<'EOF'
# Added by fastlayer (scripts/deb-src.sh): source packages for the static ISA-L, zlib and zstd builds.
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb-src
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  apt-get update -qq
  for spec in "$@"; do
    have_source "${spec%%=*}" "${spec#*=}" || die "source package $spec is not available from the deb-src entries"
  done
}
