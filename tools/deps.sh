#!/bin/sh
# Installs the Debian packages that building, testing and benchmarking
# cthreading need, and only those that are missing; silent when none are.
# librsvg2-bin gives rsvg-convert, which the tests use to render ctlab's SVGs.
# Used by the README (`tools/deps.sh && make check-all`) and by .ci/run.
set -eu

PACKAGES="build-essential clang pkg-config libglib2.0-dev valgrind python3 \
cppcheck clang-format librsvg2-bin libssl-dev"

if ! command -v dpkg-query > /dev/null || ! command -v apt-get > /dev/null; then
    echo "deps: not a Debian system; install by hand: $PACKAGES" >&2
    exit 1
fi
if [ "$(id -u)" -eq 0 ]; then
    SUDO=
elif command -v sudo > /dev/null; then
    SUDO=sudo
else
    echo "deps: need root or sudo to install packages" >&2
    exit 1
fi

# Prints the packages among "$@" that are not installed.
missing() {
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}\n' "$pkg" 2> /dev/null |
            grep -q ' installed$' || printf '%s ' "$pkg"
    done
}

# Runs "$@" up to three times: a registry hiccup must not fail CI.
retry() {
    for attempt in 1 2 3; do
        if "$@"; then
            return 0
        fi
        echo "deps: attempt $attempt failed: $*" >&2
        sleep $((attempt * 5))
    done
    return 1
}

updated=
install() {
    echo "deps: installing $*"
    if [ -z "$updated" ]; then
        retry $SUDO apt-get update -qq
        updated=1
    fi
    retry $SUDO env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -qq --no-install-recommends "$@" > /dev/null
}

# shellcheck disable=SC2086 # word splitting of the package list is wanted
need=$(missing $PACKAGES)
if [ -n "$need" ]; then
    # shellcheck disable=SC2086
    install $need
fi

# clang's TSan runtime comes in a package that clang only recommends.
if ! ls /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.tsan*.a \
    > /dev/null 2>&1; then
    major=$(clang --version | sed -n 's/.*clang version \([0-9]*\).*/\1/p')
    install "libclang-rt-${major:-14}-dev"
fi
