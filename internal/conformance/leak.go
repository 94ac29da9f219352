package conformance

import (
	"testing"
	"time"

	"github.com/readinesslab/readiness/internal/testnet"
)

// leakSettle is how long a subtest's cleanup waits for file descriptors and
// goroutines to return to their starting counts: closes and goroutine exits
// that follow a shutdown may take a moment to land.
const leakSettle = 3 * time.Second

// watchLeaks records the process's open file descriptors and goroutines now
// and, when t ends (after every cleanup registered later, such as the
// server's shutdown), fails t unless both are back to at most those counts.
func watchLeaks(t *testing.T) {
	t.Helper()
	testnet.NoLeaksWithin(t, leakSettle)
}
