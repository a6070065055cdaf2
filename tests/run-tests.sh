#!/usr/bin/env bash
# The README's test command: installs the build dependencies (Debian 12, as root), builds with
# warnings as errors and runs the whole test suite, then `make distcheck`.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    export DEBIAN_FRONTEND=noninteractive
    dpkg -s libevent-dev libcurl4-openssl-dev libjson-c-dev libyaml-dev zlib1g-dev check \
        autoconf automake pkg-config >/dev/null 2>&1 || {
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends build-essential autoconf automake \
            pkg-config libevent-dev libcurl4-openssl-dev libjson-c-dev libyaml-dev zlib1g-dev \
            check >/dev/null
    }
fi
autoreconf -fi
./configure --enable-werror -q
make -j"$(nproc)" -s
make -j"$(nproc)" -s check || { cat tests/*.log; exit 1; }
make -j"$(nproc)" -s distcheck DISTCHECK_CONFIGURE_FLAGS=--enable-werror
