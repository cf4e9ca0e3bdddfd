#!/usr/bin/env bash
# memoir's single entry point for newcomers and CI (see README.md).
#
#   bash tools/dev.sh demo [ARGS]  install what is missing, build the demo
#                                  (only it), run it
#   bash tools/dev.sh test         install what is missing, start a
#                                  throwaway PostgreSQL (stopped at the
#                                  end), check formatting,
#                                  build and run every test under ASan+UBSan,
#                                  build the package (shared, Release),
#                                  install it and build an outside project
#                                  against it three ways, run the concurrency
#                                  tests under TSan, and each fuzz target
#                                  under libFuzzer for 12 s
#   bash tools/dev.sh package      build the .deb (build/package/memoir_*.deb)
#   bash tools/dev.sh long         the long forms of the reliability tests
#                                  (ctest label "long"; can take an hour)
#   bash tools/dev.sh fuzz [SECS]  each fuzz target under libFuzzer (clang,
#                                  ASan+UBSan) for SECS seconds (default 600)
#   bash tools/dev.sh bench [ARGS] build in Release and run memoir-bench
#   bash tools/dev.sh cli ARGS     build in Release and run the memoir CLI
#
# demo, bench and cli run in the caller's directory: relative paths in ARGS
# are the caller's.
#
# Needs Debian 12 (or a system with the same packages) and root or sudo for
# the one-time package install.
set -euo pipefail
# Programs run from the caller's directory, so that relative paths in ARGS
# (a store, --schema app.fbs) mean what they mean to the caller; building
# happens from the repository.
caller_dir=$PWD
cd "$(dirname "$0")/.."
repo=$PWD

PACKAGES=(cmake ninja-build g++ pkg-config liblmdb-dev lmdb-utils
          libflatbuffers-dev flatbuffers-compiler libfmt-dev doctest-dev
          libxxhash-dev libcli11-dev clang libclang-rt-14-dev clang-format
          dpkg-dev file libpq-dev)
# The test command also starts a throwaway PostgreSQL server (tools/pg.sh)
# for the PostgreSQL backend's tests.
TEST_PACKAGES=(postgresql-15)

# install_missing [MORE PACKAGES]: PACKAGES and those, where missing.
install_missing() {
  local missing=()
  for p in "${PACKAGES[@]}" "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
      missing+=("$p")
  done
  if ((${#missing[@]})); then
    echo "dev.sh: installing ${missing[*]}"
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo=sudo
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq \
      --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

build() {
  local dir=$1
  shift
  cmake -S . -B "$dir" -G Ninja "$@" >/dev/null
  cmake --build "$dir"
}

# The project's own builds treat warnings as errors; a user's build does not
# (MEMOIR_WERROR defaults to OFF).
CHECKED=(-DMEMOIR_WERROR=ON)

# The test command's builds compile their sources 8 to a unit: at -O0 with
# sanitizers most of a file's compile time is code generation for the
# inline functions of the headers it shares with its neighbours (CLI11,
# doctest, the runtime's templates), which a unit emits once. The
# sanitized build took 4:35 instead of 7:37. The other builds (demo, bench,
# package, a user's) compile each file alone, so each still has to stand
# on its own.
UNITY=(-DCMAKE_UNITY_BUILD=ON -DCMAKE_UNITY_BUILD_BATCH_SIZE=8)

# The fuzz targets (tests/fuzz/README.md).
FUZZ_TARGETS=(event_record snapshot_record keys cli_printer)

# build/fuzz: clang with ASan, UBSan and libFuzzer's coverage, only what the
# fuzz targets need.
# -O1, as libFuzzer's documentation suggests: nearly -O2's speed for far
# less compile time.
build_fuzzers() {
  cmake -S . -B build/fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -DNDEBUG" \
    -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O1 -DNDEBUG" \
    -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
    -DMEMOIR_SANITIZE=address,undefined,fuzzer-no-link -DMEMOIR_FUZZ=ON \
    "${CHECKED[@]}" >/dev/null
  cmake --build build/fuzz --target "${FUZZ_TARGETS[@]/#/fuzz_}"
}

# fuzz_one TARGET SECONDS: one libFuzzer run over the committed corpus and
# regressions; new inputs go to build/fuzz/runs/TARGET/corpus, a crashing
# input to build/fuzz/runs/TARGET/crashes/.
fuzz_one() {
  local t=$1 seconds=$2 dir=build/fuzz/runs/$1
  mkdir -p "$dir/corpus" "$dir/crashes"
  if UBSAN_OPTIONS=print_stacktrace=1 "build/fuzz/tests/fuzz/fuzz_$t" \
      -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
      -print_final_stats=1 -artifact_prefix="$dir/crashes/" "$dir/corpus" \
      "tests/fuzz/corpus/$t" "tests/fuzz/regressions/$t" >"$dir/log" 2>&1; then
    echo "fuzz_$t: $(sed -n 's/^stat::number_of_executed_units: *//p' \
      "$dir/log") executions in $seconds s, 0 crashes"
  else
    tail -n 40 "$dir/log"
    echo "fuzz_$t: FAILED (log: $dir/log). Keep the input as a regression:"
    echo "  cp $dir/crashes/* tests/fuzz/regressions/$t/"
    return 1
  fi
}

# run_fuzzers SECONDS: every target, $jobs at a time (one core each).
run_fuzzers() {
  local failed=0 pids=() t p
  for t in "${FUZZ_TARGETS[@]}"; do
    fuzz_one "$t" "$1" &
    pids+=($!)
    if ((${#pids[@]} >= jobs)); then
      for p in "${pids[@]}"; do wait "$p" || failed=1; done
      pids=()
    fi
  done
  for p in "${pids[@]}"; do wait "$p" || failed=1; done
  return $failed
}

# build_package DIR [CMAKE ARGS]: libmemoir shared and optimised, with the
# CLI (and, unless ARGS say otherwise, the demo and the benchmark), as the
# .deb ships them.
build_package() {
  local dir=$1
  shift
  build "$dir" -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=ON \
    -DMEMOIR_BUILD_TESTS=OFF "${CHECKED[@]}" "$@"
}

# stage TEXT: a stage's heading, with the time since the command started, so
# that a slow stage shows in the log.
stage() {
  printf '== [%d:%02d] %s\n' $((SECONDS / 60)) $((SECONDS % 60)) "$*"
}

jobs=$(nproc 2>/dev/null || echo 2)
cmd=${1:-demo}
[ $# -gt 0 ] && shift

case "$cmd" in
  demo)
    install_missing
    # Only what the demo needs, not the whole tree: the demo, and the bank's
    # replay plugin its --plant-overdraft run tells you to bisect with.
    cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=Release \
      -DMEMOIR_BUILD_TESTS=OFF >/dev/null
    cmake --build build/release --target memoir-demo memoir-bank-plugin
    cd "$caller_dir"
    exec "$repo/build/release/tools/memoir-demo" "$@"
    ;;
  test)
    install_missing "${TEST_PACKAGES[@]}"
    stage "a throwaway PostgreSQL server for the PostgreSQL backend's tests"
    # On a unix socket in a temporary directory, stopped and deleted when
    # this command ends, whatever the outcome; as root it runs as the
    # postgres user (initdb refuses root).
    pgdir=$(mktemp -d "${TMPDIR:-/tmp}/memoir-pg.XXXXXX")
    # The replication tests start servers of their own under their
    # temporary directories; any a killed test left behind go too.
    trap 'bash "$repo/tools/pg.sh" stop "$pgdir"
          pkill -9 -f -- "-D ${TMPDIR:-/tmp}/memoir-test-" || true' EXIT
    MEMOIR_TEST_POSTGRES=$(bash tools/pg.sh start "$pgdir")
    export MEMOIR_TEST_POSTGRES
    stage "the repository stands alone"
    # Its design document is lib/doc/design.md; nothing may point outside
    # the repository for it.
    if git grep -n -e '\.\./shared' -- . ':!tools/dev.sh' 2>/dev/null; then
      echo "dev.sh: the files above point outside the repository" >&2
      exit 1
    fi
    stage "clang-format"
    git ls-files -z -- '*.cc' '*.h' '*.c' |
      xargs -0 clang-format --dry-run --Werror
    stage "build everything under AddressSanitizer + UndefinedBehaviorSanitizer"
    # -no-pie: an ASan executable linked as PIE carries ~1.5M relative
    # relocations that the loader applies at every start, and the CLI tests
    # start the CLI hundreds of times (0.28 s a start as PIE, 0.17 s not).
    build build/asan -DCMAKE_BUILD_TYPE=Debug -DMEMOIR_SANITIZE=address,undefined \
      -DCMAKE_EXE_LINKER_FLAGS=-no-pie "${CHECKED[@]}" "${UNITY[@]}"
    stage "the suite under AddressSanitizer + UndefinedBehaviorSanitizer"
    (cd build/asan &&
      ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
      UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
      ctest --output-on-failure -j"$((jobs + 2))" -LE long)
    stage "the package: a shared build of the library and the CLI," \
      "installed and used from outside three ways"
    # -O0: this checks installing and consuming the package, not the code
    # the optimiser makes (the suites above and below run that); the .deb
    # itself (`dev.sh package`) is built with Release's -O3.
    build_package build/package-check -DMEMOIR_BUILD_TOOLS=OFF \
      -DCMAKE_CXX_FLAGS_RELEASE="-O0 -DNDEBUG" "${UNITY[@]}"
    rm -rf build/package-check/prefix
    cmake --install build/package-check --prefix build/package-check/prefix \
      >/dev/null
    bash tests/package/check_package.sh build/package-check/prefix . \
      build/package-check/consumers
    stage "the runtime's, the group commit's, the journal's and the" \
      "subscriptions' concurrency tests under ThreadSanitizer"
    # -O1: ThreadSanitizer's own advice for speed, and a quicker compile
    # than -O2.
    cmake -S . -B build/tsan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -DNDEBUG" \
      -DMEMOIR_SANITIZE=thread -DMEMOIR_BUILD_CLI=OFF -DMEMOIR_BUILD_TOOLS=OFF \
      "${CHECKED[@]}" "${UNITY[@]}" >/dev/null
    cmake --build build/tsan --target runtime_tests writer_tests \
      journal_concurrency_tests subscription_tests
    (cd build/tsan && TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
      ctest --output-on-failure -j"$jobs" \
        -R '^(runtime_tests|writer_tests|journal_concurrency_tests|subscription_tests)$')
    stage "the fuzz targets under libFuzzer (clang, ASan+UBSan), 12 s each"
    build_fuzzers
    run_fuzzers 12
    stage "done"
    ;;
  package)
    install_missing
    build_package build/package
    (cd build/package && cpack >/dev/null)
    echo "dev.sh: $(ls "$repo"/build/package/memoir_*.deb)"
    echo "install it with: sudo apt install $(ls "$repo"/build/package/memoir_*.deb)"
    ;;
  fuzz)
    install_missing
    seconds=${1:-600}
    echo "== the fuzz targets under libFuzzer (clang, ASan+UBSan), $seconds s each"
    build_fuzzers
    run_fuzzers "$seconds"
    ;;
  long)
    install_missing
    echo "== the long forms (ctest label 'long'): 2,000 crash cycles," \
      "10,000 bit flips, 1,000 damaged stores under the CLI"
    build build/test -DCMAKE_BUILD_TYPE=RelWithDebInfo "${CHECKED[@]}"
    (cd build/test && ctest --output-on-failure -L long)
    ;;
  bench)
    install_missing
    build build/release -DCMAKE_BUILD_TYPE=Release -DMEMOIR_BUILD_TESTS=OFF
    cd "$caller_dir"
    exec "$repo/build/release/tools/memoir-bench" "$@"
    ;;
  cli)
    install_missing >&2
    # Build output goes to stderr, so that stdout is the CLI's alone.
    build build/release -DCMAKE_BUILD_TYPE=Release -DMEMOIR_BUILD_TESTS=OFF >&2
    cd "$caller_dir"
    exec "$repo/build/release/tools/cli/memoir" "$@"
    ;;
  *)
    echo "usage: bash tools/dev.sh demo|test|package|long|fuzz|bench|cli [ARGS]" >&2
    exit 2
    ;;
esac
