#!/usr/bin/env bash
# scripts/build-hydra.sh -- builds Ory Hydra (a peer for `make bench-peers`) from the Go
# module proxy, once, and prints the binary's path.
#
# Hydra's go.mod has replace directives, which `go install module@version` refuses, so
# this copies the module's source out of the module cache and builds it there (with
# cgo and the sqlite tag, for DSN=memory). Its nested client module
# (./internal/httpclient) is not in the module zip, so that one replace is dropped and
# the published github.com/ory/hydra-client-go/v2 of the same version is used instead.
# Nothing of Hydra is committed to this repository.
#
# Environment: HYDRA_VERSION (v2.3.0), BENCH_CACHE (~/.cache/latch-bench: where the
# binary is kept), GO (go).
set -euo pipefail

GO=${GO:-go}
VERSION=${HYDRA_VERSION:-v2.3.0}
CACHE=${BENCH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/latch-bench}
OUT="$CACHE/hydra-$VERSION/hydra"

say() { printf 'build-hydra.sh: %s\n' "$*" >&2; }

if [ -x "$OUT" ]; then
	echo "$OUT"
	exit 0
fi
command -v gcc >/dev/null || { say "gcc is needed (Hydra's sqlite driver uses cgo)"; exit 1; }

say "downloading github.com/ory/hydra/v2@$VERSION from the module proxy"
dir=$("$GO" mod download -json "github.com/ory/hydra/v2@$VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
[ -n "$dir" ] && [ -d "$dir" ] || { say "go mod download gave no source directory"; exit 1; }

src=$(mktemp -d "${TMPDIR:-/tmp}/hydra-src.XXXXXX")
trap 'rm -rf "$src"' EXIT
cp -r "$dir/." "$src"
chmod -R u+w "$src"
cd "$src"
"$GO" mod edit -dropreplace github.com/ory/hydra-client-go/v2
mkdir -p "$(dirname "$OUT")"
say "building (a few minutes the first time; then cached in $OUT)"
GOTOOLCHAIN=local GOFLAGS=-mod=mod CGO_ENABLED=1 "$GO" build -tags sqlite -o "$OUT.tmp" .
mv "$OUT.tmp" "$OUT"
echo "$OUT"
