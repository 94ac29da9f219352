package gnetserver

import (
	"testing"

	"github.com/readinesslab/readiness/internal/testnet"
)

// BenchmarkServe measures the server over loopback, one op per request, in
// the matrix every server package shares (testnet.BenchServe), so benchstat
// can set the three side by side (see docs/performance.md).
// The server runs one event loop, as epoll's benchmark does.
func BenchmarkServe(b *testing.B) {
	testnet.BenchServe(b, func(b *testing.B) string {
		return start(b, config()).Addr()
	})
}
