//go:build tools

// Package tools pins the versions of the test tools that
// hack/build-test-tools.sh builds (currently KWOK). It lives in its own Go
// module so that the tools' dependency graph never touches the project's
// go.mod.
package tools

import (
	_ "sigs.k8s.io/kwok/cmd/kwok"
)
