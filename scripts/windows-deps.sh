#!/usr/bin/env bash
# The Windows cross build's dependencies (docs/windows.md), from Debian 12 alone:
#   1. installs the Windows section of packages (MinGW-w64 GCC, Wine, the tools to unpack and
#      build source packages) when one is missing: needs root then;
#   2. builds what Debian ships only as source, statically for x86_64-w64-mingw32: OpenSSL,
#      SQLite (amalgamation), GoogleTest/GoogleMock; and gathers the header-only libraries
#      (nlohmann-json, CLI11, xxhash, cpp-httplib's httplib.h).
# Output: a prefix (include/, lib/) in ${CARDVAULT_WIN_DEPS:-/var/cache/cardvault/win-deps}/KEY,
# KEY derived from the Debian versions it is built from, printed on stdout. When that prefix is
# complete the script only checks (well under a second). Progress goes to stderr.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

# Bump when the recipe below changes what ends up in the prefix.
RECIPE=1
# The Windows section: not in scripts/bootstrap.sh, so the Linux commands stay lean.
WINDOWS_PACKAGES=(
  g++-mingw-w64-x86-64-posix       # GCC 12 for x86_64-w64-mingw32, POSIX threads (std::thread)
  wine wine64                      # runs the Windows tests (scripts/test-windows.sh)
  dpkg-dev tcl                     # apt-get source unpacks; SQLite's amalgamation needs tclsh
)
# Debian packages whose content (headers) or source goes into the prefix; their versions key it.
SOURCES_FROM=(libssl-dev libsqlite3-dev libgtest-dev libgmock-dev nlohmann-json3-dev libcli11-dev
              libxxhash-dev libcpp-httplib-dev)
CACHE=${CARDVAULT_WIN_DEPS:-/var/cache/cardvault/win-deps}
JOBS=$(nproc)

log() { echo "windows-deps: $*" >&2; }
die() {
  log "error: $*"
  exit 1
}

# --- 1. packages ---------------------------------------------------------------------------
missing=()
installed=$(dpkg-query -W -f='${Package} ${db:Status-Abbrev}\n' "${WINDOWS_PACKAGES[@]}" \
  "${SOURCES_FROM[@]}" 2>/dev/null || true)
for p in "${WINDOWS_PACKAGES[@]}" "${SOURCES_FROM[@]}"; do
  grep -q "^$p ii" <<<"$installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  [ "$(id -u)" -eq 0 ] || die "missing packages: ${missing[*]}; run as root (or: sudo $0)"
  log "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null ||
    die "apt-get install ${missing[*]} failed"
fi

# --- 2. the prefix, keyed by versions --------------------------------------------------------
versions=$(dpkg-query -W -f='${Package} ${Version} ${source:Package} ${source:Version}\n' \
  g++-mingw-w64-x86-64-posix "${SOURCES_FROM[@]}")
key=$(printf 'recipe %s\n%s\n' "$RECIPE" "$versions" | sha256sum | cut -c1-16)
prefix=$CACHE/$key
if [ -f "$prefix/.complete" ]; then
  echo "$prefix"
  exit 0
fi

mkdir -p "$CACHE" || die "cannot create $CACHE (set CARDVAULT_WIN_DEPS to a writable directory)"
exec 9>"$CACHE/.lock"
if ! flock -n 9; then  # another run is building: wait for it, then use its result
  log "waiting for another run's build in $CACHE"
  flock 9
fi
if [ -f "$prefix/.complete" ]; then
  echo "$prefix"
  exit 0
fi
start=$SECONDS
work=$(mktemp -d "$CACHE/.work-XXXXXX")
trap 'rm -rf "$work"' EXIT
out=$work/prefix
mkdir -p "$out/include" "$out/lib"
log "building $prefix (MinGW-w64 static libraries; ~3 minutes on 2 idle cores)"

# source_of PACKAGE -> "SOURCE VERSION" of an installed binary package
source_of() { dpkg-query -W -f='${source:Package} ${source:Version}' "$1"; }

# A private apt configuration with a deb-src entry for every Debian source configured for
# deb: the system's lists and lock are not touched.
apt_dir=$work/apt
mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial" "$apt_dir/parts"
: >"$apt_dir/sources.list"
for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
  [ -f "$f" ] || continue
  sed -nE 's/^[[:space:]]*deb[[:space:]]+(.*debian.*)$/deb-src \1/p' "$f" >>"$apt_dir/sources.list"
done
for f in /etc/apt/sources.list.d/*.sources; do
  [ -f "$f" ] || continue
  awk 'BEGIN { RS = ""; ORS = "\n\n" }
       /(^|\n)Types:[^\n]*deb/ && /(^|\n)URIs:[^\n]*debian/ {
         sub(/(^|\n)Types:[^\n]*/, "\nTypes: deb-src"); sub(/^\n/, ""); print }' \
    "$f" >"$apt_dir/parts/$(basename "$f")"
done
if ! grep -qs deb-src "$apt_dir/sources.list" "$apt_dir"/parts/*.sources; then
  die "no Debian source configured in /etc/apt to derive a deb-src entry from"
fi
APT=(apt-get -qq -o "Dir::Etc::SourceList=$apt_dir/sources.list"
     -o "Dir::Etc::SourceParts=$apt_dir/parts" -o "Dir::State::Lists=$apt_dir/lists"
     -o "Dir::Cache=$apt_dir/cache" -o "APT::Sandbox::User=root")
log "apt-get update (deb-src indices, private to this run)"
"${APT[@]}" update >"$work/apt-update.log" 2>&1 || {
  cat "$work/apt-update.log" >&2
  die "apt-get update of the deb-src entries failed"
}

# fetch SOURCE VERSION: apt-get source into $work/src. The security suite's .dsc is sometimes
# missing from the mirror while its tarball is there: then the release's own source.
mkdir -p "$work/src"
fetch() {
  local name=$1 version=$2 codename
  log "apt-get source $name=$version"
  if (cd "$work/src" && "${APT[@]}" source --only-source "$name=$version") \
      >"$work/fetch-$name.log" 2>&1; then
    return 0
  fi
  codename=$(. /etc/os-release && echo "$VERSION_CODENAME")
  log "$name=$version unavailable; falling back to $name/$codename"
  (cd "$work/src" && "${APT[@]}" source --only-source "$name/$codename") \
    >>"$work/fetch-$name.log" 2>&1 || {
    cat "$work/fetch-$name.log" >&2
    die "apt-get source $name failed"
  }
}
# The unpacked tree of source package NAME.
tree_of() {
  find "$work/src" -mindepth 1 -maxdepth 1 -type d -name "$1-*" | head -n 1
}

read -r ssl_src ssl_ver <<<"$(source_of libssl-dev)"
read -r sqlite_src sqlite_ver <<<"$(source_of libsqlite3-dev)"
read -r httplib_src httplib_ver <<<"$(source_of libcpp-httplib-dev)"
fetch "$ssl_src" "$ssl_ver"
fetch "$sqlite_src" "$sqlite_ver"
fetch "$httplib_src" "$httplib_ver"

# OpenSSL: libcrypto.a and libssl.a, no shared libraries, no tests, no apps.
t=$SECONDS
ssl=$(tree_of "$ssl_src")
[ -n "$ssl" ] || die "no unpacked $ssl_src tree"
log "OpenSSL: configure and make build_libs in $(basename "$ssl") (~2 minutes idle)"
(cd "$ssl" && ./Configure mingw64 no-shared no-tests \
   --cross-compile-prefix=x86_64-w64-mingw32- --prefix=/ --libdir=lib &&
 make -j"$JOBS" build_libs) >"$work/openssl.log" 2>&1 || {
  tail -n 40 "$work/openssl.log" >&2
  die "the OpenSSL build failed"
}
cp -r "$ssl/include/openssl" "$out/include/"
cp "$ssl/libcrypto.a" "$ssl/libssl.a" "$out/lib/"
log "OpenSSL: done in $((SECONDS - t)) s"

# SQLite: the amalgamation is generated natively (tclsh), then compiled for Windows.
t=$SECONDS
sqlite=$(tree_of "$sqlite_src")
[ -n "$sqlite" ] || die "no unpacked $sqlite_src tree"
log "SQLite: amalgamation from $(basename "$sqlite"), compiled with MinGW"
mkdir -p "$work/sqlite-build"
(cd "$work/sqlite-build" && "$sqlite/configure" --disable-tcl >/dev/null && make sqlite3.c &&
 x86_64-w64-mingw32-gcc-posix -O2 -DSQLITE_THREADSAFE=1 -DSQLITE_DQS=0 -c sqlite3.c -o sqlite3.o &&
 x86_64-w64-mingw32-ar rcs libsqlite3.a sqlite3.o) >"$work/sqlite.log" 2>&1 || {
  tail -n 40 "$work/sqlite.log" >&2
  die "the SQLite build failed"
}
cp "$work/sqlite-build/sqlite3.h" "$work/sqlite-build/sqlite3ext.h" "$out/include/"
cp "$work/sqlite-build/libsqlite3.a" "$out/lib/"
log "SQLite: done in $((SECONDS - t)) s"

# GoogleTest and GoogleMock from Debian's /usr/src/googletest, with the project's toolchain.
t=$SECONDS
log "GoogleTest: /usr/src/googletest with cmake/mingw-w64.cmake"
(cmake -S /usr/src/googletest -B "$work/gtest-build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
   -DCMAKE_TOOLCHAIN_FILE="$repo/cmake/mingw-w64.cmake" -DCMAKE_INSTALL_PREFIX="$out" \
   -DCMAKE_INSTALL_LIBDIR=lib &&
 ninja -C "$work/gtest-build" -j "$JOBS" install) >"$work/gtest.log" 2>&1 || {
  tail -n 40 "$work/gtest.log" >&2
  die "the GoogleTest build failed"
}
log "GoogleTest: done in $((SECONDS - t)) s"

# Header-only libraries: from the installed -dev packages, httplib.h from its source package.
cp -r /usr/include/nlohmann /usr/include/CLI "$out/include/"
cp /usr/include/xxhash.h /usr/include/xxh3.h "$out/include/"
httplib=$(tree_of "$httplib_src")
[ -f "$httplib/httplib.h" ] || die "no httplib.h in the $httplib_src source"
cp "$httplib/httplib.h" "$out/include/"

{
  printf '%s\n' "$versions"
  echo "built from: $(basename "$ssl") $(basename "$sqlite") $(basename "$httplib")" \
    "$(basename "$(readlink -f /usr/src/googletest)")"
} >"$out/VERSIONS"
touch "$out/.complete"
rm -rf "$prefix"
mv "$out" "$prefix"
log "done in $((SECONDS - start)) s: $prefix ($(du -sh "$prefix" | cut -f1))"
echo "$prefix"
