package source

import (
	"testing"

	"go.uber.org/goleak"
)

// Every informer, elector and timer a test starts is stopped by its end.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
