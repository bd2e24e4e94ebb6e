# Sourced by the static library build scripts (build-isal-static.sh, build-isal-arm64.sh), which need
# `apt-get source`. Such machines have no deb-src entry, so one is added in a file of our own (the
# same file for both scripts, so they never disagree) and the system's sources are left untouched.
# The sourcing script defines die().

have_source() { apt-cache showsrc "$1" 2>/dev/null | grep -q "^Version: $2\$"; }

# ensure_deb_src PKG=VERSION...: returns once every source package is available; dies otherwise.
ensure_deb_src() {
  local spec missing=0
  for spec in "$@"; do have_source "${spec%%=*}" "${spec#*=}" || missing=1; done
  [[ $missing == 0 ]] && return 0
  [[ "$(id -u)" == 0 ]] || die "needs root once to add a deb-src entry and run apt-get update"
  local list=/etc/apt/sources.list.d/fastlayer-deb-src.sources
  if [[ ! -f "$list" ]]; then
    cat >"$list" <<'EOF'
# Added by fastlayer (scripts/deb-src.sh): source packages for the static ISA-L and zlib builds.
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  fi
  apt-get update -qq
  for spec in "$@"; do
    have_source "${spec%%=*}" "${spec#*=}" || die "source package $spec is not available from the deb-src entries"
  done
}
