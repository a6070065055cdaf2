#!/bin/sh
# Build the pollster .deb (Debian 12) from this source tree and check it with lintian.
#
#   packaging/build-deb.sh [OUTDIR]
#
# Copies the tree (git's tracked and untracked, not ignored, files when it is a git work tree,
# else everything but build output) to a temporary directory, places packaging/debian there as
# ./debian, runs dpkg-buildpackage -us -uc -b with DEB_BUILD_OPTIONS=nocheck (the test suite
# runs in CI; unset it with DEB_BUILD_OPTIONS= to run make check in the build too), runs lintian
# on the result, prints where the .deb is and copies it to OUTDIR (default: the current
# directory). Exit status: non-zero when the build fails or lintian reports an error.
#
# Needs: dpkg-dev, debhelper, lintian and the Build-Depends of packaging/debian/control.
set -eu

src=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-.}
mkdir -p "$out"
out=$(cd "$out" && pwd)
: "${DEB_BUILD_OPTIONS=nocheck}"
export DEB_BUILD_OPTIONS

version=$(dpkg-parsechangelog -l "$src/packaging/debian/changelog" -S Version)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/pollster-deb.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' HUP INT TERM
build=$tmp/pollster-$version

echo "== copy $src to $build"
mkdir -p "$build"
if git -C "$src" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    # Deleted but not yet committed files are listed too: skip what is not there.
    (cd "$src" && git ls-files -z --cached --others --exclude-standard) |
        (cd "$src" && xargs -0 sh -c 'for f; do [ -e "$f" ] || [ -h "$f" ] && printf "%s\0" "$f"; done' sh) |
        (cd "$src" && tar --null -T - -cf -) | tar -C "$build" -xf -
else
    tar -C "$src" --exclude=.git --exclude=autom4te.cache --exclude='*.o' --exclude='*.a' \
        --exclude=config.status --exclude=config.log -cf - . | tar -C "$build" -xf -
fi
rm -rf "$build/debian"
cp -a "$src/packaging/debian" "$build/debian"

echo "== dpkg-buildpackage -us -uc -b (DEB_BUILD_OPTIONS=$DEB_BUILD_OPTIONS)"
(cd "$build" && dpkg-buildpackage -us -uc -b)

arch=$(dpkg-architecture -qDEB_HOST_ARCH)
changes=$tmp/pollster_${version}_${arch}.changes
deb=$tmp/pollster_${version}_${arch}.deb

echo "== lintian"
# Errors fail the build; warnings and notes are printed. --fail-on needs lintian >= 2.77.
lintian --display-info --fail-on error "$changes"

cp "$deb" "$out/"
echo "== built $out/$(basename "$deb")"
