#!/usr/bin/env bash
# Configures (once) and builds cardvault with Ninja. Usage:
#   scripts/build.sh            release build in build/
#   scripts/build.sh asan       clang AddressSanitizer + UBSan build in build-asan/
#   scripts/build.sh fuzz       clang libFuzzer build in build-fuzz/
#   scripts/build.sh windows    MinGW-w64 cross build of the core and its tests in build-windows/
#                               (static .exe files; scripts/windows-deps.sh first; docs/windows.md)
set -euo pipefail
cd "$(dirname "$0")/.."
# ccache keys on paths relative to the checkout, so a fresh clone elsewhere (CI) reuses what
# an earlier build compiled.
export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=1
kind=${1:-release}
case "$kind" in
  release) dir=build; flags=(-DCMAKE_BUILD_TYPE=RelWithDebInfo) ;;
  asan) dir=build-asan; flags=(-DCMAKE_BUILD_TYPE=Debug -DCARDVAULT_SANITIZE=ON -DCARDVAULT_BENCH=OFF
                               -DCMAKE_CXX_COMPILER=clang++) ;;
  fuzz) dir=build-fuzz; flags=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DCARDVAULT_FUZZ=ON
                               -DCMAKE_CXX_COMPILER=clang++) ;;
  windows) dir=build-windows
           deps=$(bash scripts/windows-deps.sh)
           flags=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_TOOLCHAIN_FILE=cmake/mingw-w64.cmake
                  -DCARDVAULT_WIN_DEPS="$deps") ;;
  *) echo "usage: $0 [release|asan|fuzz|windows]" >&2; exit 2 ;;
esac
if [ "$kind" = windows ] && [ -f "$dir/CMakeCache.txt" ] &&
   ! grep -qxF "CARDVAULT_WIN_DEPS:UNINITIALIZED=$deps" "$dir/CMakeCache.txt"; then
  rm -rf "$dir"  # other Windows libraries (new Debian versions): configure afresh
fi
if [ ! -f "$dir/build.ninja" ]; then
  cmake -S . -B "$dir" -G Ninja "${flags[@]}" >/dev/null
fi
echo "build: $kind in $dir" >&2
if ! ninja -C "$dir" -j "$(nproc)" > "$dir/ninja.log" 2>&1; then
  cat "$dir/ninja.log" >&2
  exit 1
fi
