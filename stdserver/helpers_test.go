package stdserver

import (
	"runtime"
	"testing"

	"github.com/readinesslab/readiness/internal/serve"
	"github.com/readinesslab/readiness/internal/testnet"
)

const get = testnet.Get

// config is a test server's settings (testnet.Config) with GOMAXPROCS loops.
func config() serve.Config { return testnet.Config(runtime.GOMAXPROCS(0)) }

// start starts a server that Cleanup shuts down, checking that the shutdown
// was graceful.
func start(t testing.TB, cfg serve.Config) *Server {
	t.Helper()
	return testnet.Start(t, Start, cfg)
}
