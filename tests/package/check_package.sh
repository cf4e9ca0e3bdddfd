#!/usr/bin/env bash
# An outside project builds and runs the README's examples against memoir
# three ways: find_package(memoir) and pkg-config against an installed
# prefix, and add_subdirectory of the source tree; the installed `memoir`
# CLI then replays what the example wrote with a plugin built against the
# installed package.
#
#   check_package.sh PREFIX SOURCE WORK
#
# PREFIX holds an installed memoir (cmake --install, or /usr after the .deb),
# SOURCE is memoir's source tree, WORK a scratch directory (emptied).
set -euo pipefail
prefix=$(realpath "$1")
source=$(realpath "$2")
work=$3
rm -rf "$work"
mkdir -p "$work"
work=$(realpath "$work")
consumer=$source/tests/package/consumer
examples=$source/tests/readme
memoir=$prefix/bin/memoir

fail() {
  echo "check_package: $*" >&2
  exit 1
}

# configure_and_build HOW BUILD_DIR [CMAKE ARGS...]
configure_and_build() {
  local how=$1 dir=$2
  shift 2
  cmake -S "$consumer" -B "$dir" -G Ninja -DMEMOIR_CONSUME="$how" \
    -DEXAMPLES="$examples" "$@" >"$dir.log" 2>&1 ||
    { cat "$dir.log"; fail "configuring the consumer ($how) failed"; }
  cmake --build "$dir" >>"$dir.log" 2>&1 ||
    { tail -n 40 "$dir.log"; fail "building the consumer ($how) failed"; }
}

# run_counter BUILD_DIR: the example's store starts empty; the total is 5.
run_counter() {
  local dir=$1 out
  rm -rf "$dir/run"
  mkdir -p "$dir/run"
  out=$(cd "$dir/run" && "$dir/counter") ||
    fail "the example built in $dir failed: $out"
  grep -q "total after a durable commit: 5" <<<"$out" ||
    fail "the example built in $dir printed: $out"
}

version=$("$memoir" --version) || fail "$memoir --version failed"
echo "installed CLI: $version"

echo "== find_package(memoir) from $prefix"
configure_and_build find_package "$work/find_package" \
  -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=Release
run_counter "$work/find_package"
plugin=$work/find_package/counter-plugin.so
[ -f "$plugin" ] || fail "memoir_add_plugin did not build $plugin"
out=$(cd "$work/find_package/run" &&
  "$memoir" replay counter-store counter-1 --json --plugin "$plugin") ||
  fail "the installed CLI could not replay with $plugin: $out"
grep -Eq '"total": ?5[^0-9]' <<<"$out" ||
  fail "the installed CLI replayed a wrong total: $out"
echo "the installed CLI replays the example's store with a plugin built" \
  "against the installed package"

echo "== pkg-config memoir from $prefix"
pc_dir=$(dirname "$(find "$prefix" -name memoir.pc | head -n 1)")
[ -n "$pc_dir" ] || fail "no memoir.pc under $prefix"
PKG_CONFIG_PATH=$pc_dir configure_and_build pkg-config "$work/pkg-config" \
  -DCMAKE_BUILD_TYPE=Release
run_counter "$work/pkg-config"

echo "== add_subdirectory($source)"
# No build type: the quickest compile of the library's sources, which this
# consumer builds again.
configure_and_build add_subdirectory "$work/add_subdirectory" \
  -DMEMOIR_SOURCE="$source"
run_counter "$work/add_subdirectory"
# A subproject gets no memoir tests, tools or -Werror.
if grep -q -- "-Werror" "$work/add_subdirectory/build.ninja"; then
  fail "add_subdirectory(memoir) compiles with -Werror"
fi
echo "check_package: all three ways build and run the README's example"
