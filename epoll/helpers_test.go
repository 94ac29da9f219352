package epoll

import (
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/readinesslab/readiness/internal/proto"
	"github.com/readinesslab/readiness/internal/serve"
	"github.com/readinesslab/readiness/internal/testnet"
	"github.com/readinesslab/readiness/internal/testnet/netcheck"
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

// converse sends n requests one at a time on a new connection.
func converse(addr string, n int) error {
	c, err := net.DialTimeout("tcp", addr, wait)
	if err != nil {
		return err
	}
	defer c.Close()
	for i := range n {
		if err := netcheck.RoundTrip(c, get, proto.OK, wait); err != nil {
			return fmt.Errorf("request %d: %w", i, err)
		}
	}
	return nil
}

// converseAll runs clients conversations of n requests at once, each on a
// new connection, and fails the test on the first error.
func converseAll(t *testing.T, addr string, clients, n int) {
	t.Helper()
	errs := make(chan error, clients)
	for range clients {
		go func() { errs <- converse(addr, n) }()
	}
	for range clients {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}

// offered is what a client that never reads tries to send: ten million
// requests, far more than the server's bound plus the kernel's buffers.
const offered = 10_000_000 * int64(len(get))

// endless repeats a request forever.
type endless struct{}

func (endless) Read(b []byte) (int, error) {
	n := 0
	for n+len(get) <= len(b) {
		n += copy(b[n:], get)
	}
	if n == 0 {
		n = copy(b, get)
	}
	return n, nil
}
