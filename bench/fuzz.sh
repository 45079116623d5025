#!/usr/bin/env bash
# bench/fuzz.sh [FUZZTIME] — runs every Go fuzz target in the module for
# FUZZTIME each (default 30s). Not part of `make test`: fuzzing is open-ended;
# the seed corpora still run as ordinary tests there.
set -euo pipefail
T=${1:-30s}
cd "$(dirname "$0")/.."
status=0
while IFS= read -r line; do
	file=${line%%:*}
	name=$(sed -E 's/.*func (Fuzz[A-Za-z0-9_]*).*/\1/' <<<"$line")
	pkg=$(dirname "$file")
	echo "== $pkg $name ($T)"
	go test -run='^$' -fuzz="^${name}\$" -fuzztime="$T" "$pkg" || status=1
done < <(grep -rn --include='*_test.go' -E '^func Fuzz[A-Za-z0-9_]*\(' . | sort)
exit $status
