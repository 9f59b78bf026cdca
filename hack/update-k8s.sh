#!/usr/bin/env bash
# update-k8s.sh pins k8s.io/kubernetes and every k8s.io/* staging module it
# replaces to one release, the way scheduler-plugins does. The next
# Kubernetes bump is one command:
#
#   hack/update-k8s.sh 1.37.2
#
# It reads the staging module list from k8s.io/kubernetes' own go.mod, so a
# staging module added upstream is pinned without editing this script.
set -euo pipefail

version="${1:?usage: $0 <kubernetes version, e.g. 1.37.2>}"
version="${version#v}"
staging="v0.${version#*.}"
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

modfile="$(go mod download -json "k8s.io/kubernetes@v${version}" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p')"
[ -n "$modfile" ] || { echo "cannot download k8s.io/kubernetes@v${version}" >&2; exit 1; }

mods="$(awk '$2 == "=>" && $3 ~ /^\.\/staging\// {print $1}' "$modfile")"
[ -n "$mods" ] || { echo "no staging modules found in $modfile" >&2; exit 1; }

go mod edit -require "k8s.io/kubernetes@v${version}"
for m in $mods; do
	go mod edit -replace "${m}=${m}@${staging}"
done
go mod tidy
echo "pinned k8s.io/kubernetes v${version} and $(echo "$mods" | wc -l) staging modules at ${staging}"
