package reconcile_test

import (
	"testing"

	"go.uber.org/goleak"
)

// The reconciler's Run loop and the tests' informers must all stop.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
