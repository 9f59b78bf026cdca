#!/usr/bin/env bash
# Builds the binaries the integration-test harness (test/harness) runs:
#
#   bin/etcd            test/cmd/etcd (go.etcd.io/etcd/server/v3/embed, from the root go.mod)
#   bin/kube-apiserver  k8s.io/kubernetes/cmd/kube-apiserver (from the root go.mod)
#   bin/kwok            sigs.k8s.io/kwok/cmd/kwok (from the separate hack/tools module)
#
# Usage: hack/build-test-tools.sh [-f|--force] [etcd|kube-apiserver|kwok ...]
#
# With no tool names all three are built. A binary is skipped when it is newer
# than every input that pins it (the owning go.mod/go.sum, plus the sources
# of test/cmd/etcd for etcd); --force rebuilds regardless.
#
# Environment: BIN_DIR (default <repo>/bin), GO (default go). GOFLAGS gets
# -buildvcs=false. A cold build of kube-apiserver takes ~10 minutes on 2 cores.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN_DIR="${BIN_DIR:-${REPO_ROOT}/bin}"
GO="${GO:-go}"
export GOFLAGS="${GOFLAGS:+${GOFLAGS} }-buildvcs=false"

force=0
tools=()
for arg in "$@"; do
  case "${arg}" in
    -f|--force) force=1 ;;
    -h|--help) sed -n '2,15p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    etcd|kube-apiserver|kwok) tools+=("${arg}") ;;
    *) echo "build-test-tools: unknown argument '${arg}' (want etcd, kube-apiserver, kwok, --force)" >&2; exit 2 ;;
  esac
done
if [[ ${#tools[@]} -eq 0 ]]; then
  tools=(etcd kube-apiserver kwok)
fi

mkdir -p "${BIN_DIR}"
BIN_DIR="$(cd "${BIN_DIR}" && pwd)" # absolute: builds run in the module's directory

# up_to_date BINARY INPUT... succeeds when BINARY exists and is newer than all INPUTs.
up_to_date() {
  local bin="$1"; shift
  [[ ${force} -eq 0 && -x "${bin}" ]] || return 1
  local in
  for in in "$@"; do
    [[ "${bin}" -nt "${in}" ]] || return 1
  done
}

# build NAME MODULE_DIR PACKAGE INPUT...
build() {
  local name="$1" moddir="$2" pkg="$3"; shift 3
  local out="${BIN_DIR}/${name}"
  if up_to_date "${out}" "$@"; then
    echo "build-test-tools: ${name} is up to date (${out})"
    return 0
  fi
  echo "build-test-tools: building ${name} from ${pkg} ..."
  local start=${SECONDS}
  # Build to a temporary name and rename, so an interrupted build never leaves
  # a half-written binary that looks up to date.
  (cd "${moddir}" && "${GO}" build -o "${out}.tmp" "${pkg}")
  mv -f "${out}.tmp" "${out}"
  echo "build-test-tools: built ${out} in $((SECONDS - start))s"
}

for tool in "${tools[@]}"; do
  case "${tool}" in
    etcd)
      build etcd "${REPO_ROOT}" ./test/cmd/etcd \
        "${REPO_ROOT}/go.mod" "${REPO_ROOT}/go.sum" "${REPO_ROOT}"/test/cmd/etcd/*.go ;;
    kube-apiserver)
      build kube-apiserver "${REPO_ROOT}" k8s.io/kubernetes/cmd/kube-apiserver \
        "${REPO_ROOT}/go.mod" "${REPO_ROOT}/go.sum" ;;
    kwok)
      build kwok "${REPO_ROOT}/hack/tools" sigs.k8s.io/kwok/cmd/kwok \
        "${REPO_ROOT}/hack/tools/go.mod" "${REPO_ROOT}/hack/tools/go.sum" ;;
  esac
done
