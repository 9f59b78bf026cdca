#!/usr/bin/env bash
# Runs every fuzz target of the module (func FuzzXxx in a _test.go file)
# for FUZZTIME each (default 10s), one at a time. New crashers land in the
# package's testdata/fuzz/<FuzzXxx>/ and fail the run: commit them with the
# fix, as regression tests. Every target's seed corpus also runs in plain
# go test.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime=${FUZZTIME:-10s}
go=${GO:-go}
status=0
while IFS=: read -r file name; do
	dir=./$(dirname "$file")
	echo "fuzz: $dir $name ($fuzztime)"
	if ! "$go" test -run '^$' -fuzz "^${name}\$" -fuzztime "$fuzztime" -parallel 2 "$dir"; then
		status=1
	fi
done < <(grep -rEo --include='*_test.go' '^func (Fuzz[A-Za-z0-9_]+)' --exclude-dir=.git . | sed 's|^\./||; s|:func |:|' | sort -u)
exit $status
