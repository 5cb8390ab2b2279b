#!/bin/sh
# Instructions per operation, counted by valgrind's callgrind: runs
# `ct_bench --instr CASE N` for two N and prints (Ir(N2) - Ir(N1)) / (N2 - N1),
# so start-up, set-up and tear-down cancel out. Exact and noise-free.
# usage: bench/instr.sh [CT_BENCH] [CASE...]   (N1, N2 from the environment)
set -eu

BIN=${1:-build/gcc-release/ct_bench}
[ $# -gt 0 ] && shift
N1=${N1:-100000}
N2=${N2:-200000}

if ! command -v valgrind >/dev/null 2>&1; then
    echo "instr.sh: valgrind not installed" >&2
    exit 1
fi
if [ ! -x "$BIN" ]; then
    echo "instr.sh: $BIN not found; build it first (make bench or" \
        "make build/gcc-release/ct_bench)" >&2
    exit 1
fi
# The default list comes from ct_bench itself, so the two never disagree.
if [ $# -gt 0 ]; then
    CASES=$*
else
    CASES=$("$BIN" --instr-cases)
fi

# Prints the instructions callgrind collected for one run.
ir() {
    valgrind --tool=callgrind --callgrind-out-file=/dev/null \
        "$BIN" --instr "$1" "$2" 2>&1 |
        sed -n 's/.*Collected : *\([0-9][0-9]*\).*/\1/p'
}

printf '%-24s %12s   (N1=%s, N2=%s)\n' case instr/op "$N1" "$N2"
for c in $CASES; do
    if ! "$BIN" --instr "$c" 1 >/dev/null 2>&1; then
        printf '%-24s %12s   %s\n' "$c" - "not in this build (GLib not installed?)"
        continue
    fi
    a=$(ir "$c" "$N1")
    b=$(ir "$c" "$N2")
    if [ -z "$a" ] || [ -z "$b" ]; then
        printf '%-24s %12s   %s\n' "$c" - "valgrind failed"
        continue
    fi
    awk -v a="$a" -v b="$b" -v n1="$N1" -v n2="$N2" -v c="$c" \
        'BEGIN { printf "%-24s %12.2f\n", c, (b - a) / (n2 - n1) }'
done
