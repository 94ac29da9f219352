package epoll

import (
	"net"
	"testing"
	"time"

	"github.com/readinesslab/readiness/internal/serve"
	"github.com/readinesslab/readiness/internal/testnet"
)

const get = testnet.Get

// wait bounds every read and write of a test connection.
const wait = 10 * time.Second

// testConfig is a one-loop server on a free loopback port.
func testConfig() serve.Config {
	cfg := serve.Default()
	cfg.Addr = "127.0.0.1:0"
	cfg.Loops = 1
	return cfg
}

// start runs a server for the test and checks, when the test ends, that
// Shutdown returns and leaves no fd and no goroutine behind.
func start(t *testing.T, cfg serve.Config) *Server {
	t.Helper()
	testnet.NoLeaks(t)
	return testnet.Start(t, Start, cfg)
}

// dial connects to s with a deadline of wait on the whole connection, which
// also bounds the tests' own reads and writes (a writer goroutine, a read
// loop) besides the testnet helpers.
func dial(t *testing.T, s *Server) *net.TCPConn {
	t.Helper()
	c := testnet.Dial(t, s.Addr())
	c.SetDeadline(time.Now().Add(wait))
	return c
}
