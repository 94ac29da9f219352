package testnet

import (
	"context"
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/readinesslab/readiness/internal/proto"
	"github.com/readinesslab/readiness/internal/serve"
	"github.com/readinesslab/readiness/internal/testnet/netcheck"
)

// Get is the plain request the tests send.
const Get = "GET / HTTP/1.1\r\nHost: x\r\n\r\n"

// ShutdownBound is the contract's bound on a graceful shutdown.
const ShutdownBound = 5 * time.Second

// Start starts a server with start(cfg) and shuts it down when the test ends,
// failing the test if that shutdown is not graceful within ShutdownBound.
// The std server sets GOMAXPROCS from cfg.Loops for the whole process: the
// test's end puts it back.
func Start[S serve.Server](t testing.TB, start func(serve.Config) (S, error), cfg serve.Config) S {
	t.Helper()
	procs := runtime.GOMAXPROCS(0)
	t.Cleanup(func() { runtime.GOMAXPROCS(procs) })
	s, err := start(cfg)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), ShutdownBound)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	return s
}

// Config is a test server's settings: a free loopback port, loops loops, and
// timeouts long enough not to interfere with a test that does not set them.
func Config(loops int) serve.Config {
	return serve.Config{
		Addr:          "127.0.0.1:0",
		Loops:         loops,
		IdleTimeout:   time.Minute,
		HeaderTimeout: 10 * time.Second,
	}
}

// ShutdownAsync runs s.Shutdown, with ShutdownBound to finish, in a
// goroutine and returns the channel its error arrives on.
func ShutdownAsync(s serve.Server) <-chan error {
	errc := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), ShutdownBound)
		defer cancel()
		errc <- s.Shutdown(ctx)
	}()
	return errc
}

// ExpectRefused checks that a connection to addr, a server's address after
// its Shutdown, is not accepted.
func ExpectRefused(t testing.TB, addr string) {
	t.Helper()
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Fatal("a connection was accepted after Shutdown")
	}
}

// AwaitServed dials addr, a server at its MaxConns that has just lost a
// connection, until a request is served, within d. Until then every
// answer must be a 503 and a close.
func AwaitServed(t testing.TB, addr string, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		c := Dial(t, addr)
		served, err := netcheck.Admitted(c, Get, string(proto.OK), string(proto.ServiceUnavailable), IOTimeout)
		c.Close()
		switch {
		case err != nil:
			t.Fatal(err)
		case served:
			return
		case time.Now().After(deadline):
			t.Fatalf("still turned away %v after a connection left", d)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
