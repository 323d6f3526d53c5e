#!/usr/bin/env bash
# Build SoftHSM 2.6.1 with GOST (Debian's softhsm2 is built without it), for the GOST token tests.
#
#   scripts/build-softhsm-gost.sh          build (once) and print the module path
#   scripts/build-softhsm-gost.sh --path   print where the module is (or would be); build nothing
#
# Fetches Debian's source package (the orig tarball is all the build needs), builds it with
# cmake -DENABLE_GOST=ON against the system OpenSSL 3, and installs it into
# .cache/softhsm-gost/ under the checkout (git-ignored).  A rerun finds the installed module
# and only prints its path.  $TANBA_SOFTHSM_GOST_CACHE overrides the cache directory.
#
# Needs: apt-get source (dpkg-dev), cmake, g++, make, libssl-dev, and at run time the gost
# engine (libengine-gost-openssl): SoftHSM's OpenSSL back-end asks OpenSSL for the engine
# "gost" by id, which OpenSSL loads from its engines directory without any config file.
#
# The apt state used to fetch the source (a deb-src line, the lists) lives in a private
# directory: the machine's apt sources and lists are not touched.
#
# Prints the module path (…/lib/softhsm/libsofthsm2.so) on stdout; everything else goes to stderr.
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cache=${TANBA_SOFTHSM_GOST_CACHE:-$top/.cache/softhsm-gost}
version=2.6.1
prefix=$cache/$version
module=$prefix/lib/softhsm/libsofthsm2.so
stamp=$prefix/.built   # written last: a complete install

if [ "${1:-}" = "--path" ]; then
    echo "$module"
    exit 0
fi
if [ -f "$stamp" ] && [ -f "$module" ]; then
    echo "$module"
    exit 0
fi

for tool in apt-get cmake g++ make; do
    command -v "$tool" >/dev/null || {
        echo "build-softhsm-gost: $tool not found (apt install dpkg-dev cmake g++ make libssl-dev)" >&2; exit 1; }
done
[ -f /usr/include/openssl/evp.h ] || { echo "build-softhsm-gost: libssl-dev is missing" >&2; exit 1; }

mkdir -p "$cache"
work=$(mktemp -d "$cache/build.XXXXXX")
trap 'rm -rf "$work"' EXIT
started=$(date +%s)

# 1. The source: Debian's orig tarball, through a private apt state with one deb-src line.
tarball=$cache/softhsm2_$version.orig.tar.gz
if [ ! -f "$tarball" ]; then
    apt=$work/apt
    mkdir -p "$apt/lists/partial" "$apt/parts" "$apt/cache/archives/partial" "$apt/src"
    # The suite of the machine's own Debian (bookworm on Debian 12).
    codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")
    echo "deb-src http://deb.debian.org/debian $codename main" >"$apt/sources.list"
    apt_opts=(
        -o "Dir::State=$apt" -o "Dir::State::Lists=$apt/lists" -o "Dir::State::status=/var/lib/dpkg/status"
        -o "Dir::Etc::sourcelist=$apt/sources.list" -o "Dir::Etc::sourceparts=$apt/parts"
        -o "Dir::Cache=$apt/cache" -o "APT::Sandbox::User=root" -o "Debug::NoLocking=1"
    )
    echo "build-softhsm-gost: fetching softhsm2 $version source (private apt state in $apt)" >&2
    apt-get "${apt_opts[@]}" -qq update >&2
    # Here the .dsc and the orig tarball download but the debian.tar.xz may answer 404, so
    # apt-get exits non-zero: only the orig tarball matters.
    (cd "$apt/src" && apt-get "${apt_opts[@]}" -qq source --download-only softhsm2 >&2) \
        || echo "build-softhsm-gost: (apt-get source failed in part: fine if the orig tarball came)" >&2
    found=$(ls "$apt/src"/softhsm2_"$version".orig.tar.gz 2>/dev/null || true)
    [ -n "$found" ] || { echo "build-softhsm-gost: softhsm2_$version.orig.tar.gz was not fetched" >&2; exit 1; }
    mv "$found" "$tarball.part" && mv "$tarball.part" "$tarball"
fi

# 2. Build and install (a couple of minutes on two cores; the tests and documentation are off).
echo "build-softhsm-gost: building SoftHSM $version with GOST into $prefix" >&2
tar -xzf "$tarball" -C "$work"
src=$work/softhsm2-$version
[ -d "$src" ] || src=$(find "$work" -maxdepth 1 -type d -name 'softhsm*' | head -n1)
rm -rf "$prefix"
cmake -S "$src" -B "$work/build" -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX="$prefix" \
    -DENABLE_GOST=ON -DENABLE_EDDSA=ON -DWITH_CRYPTO_BACKEND=openssl -DBUILD_TESTS=OFF \
    -DDISABLE_NON_PAGED_MEMORY=ON \
    -DCMAKE_CXX_FLAGS="-Wno-deprecated-declarations" >"$work/cmake.log" 2>&1 \
    || { cat "$work/cmake.log" >&2; exit 1; }
cmake --build "$work/build" -j "$(nproc)" >"$work/build.log" 2>&1 \
    || { tail -n 60 "$work/build.log" >&2; exit 1; }
cmake --install "$work/build" >"$work/install.log" 2>&1 || { cat "$work/install.log" >&2; exit 1; }
[ -f "$module" ] || { echo "build-softhsm-gost: $module was not installed" >&2; exit 1; }
date -u +%FT%TZ >"$stamp"
echo "build-softhsm-gost: built in $(($(date +%s) - started)) s" >&2
echo "$module"
