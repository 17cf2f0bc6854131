package interop

import (
	"testing"

	"go.uber.org/goleak"
)

// Every peer process, capture and Parley endpoint a test starts is stopped
// by its cleanup; goleak checks that no goroutine outlives the tests.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
