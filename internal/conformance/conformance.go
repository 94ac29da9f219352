// Package conformance is the one test body every server model runs: the
// contract's wire rules on raw sockets, byte for byte; requests split at every
// boundary and pipelined by the thousand; hundreds of concurrent connections;
// half-closes and resets; real clients (curl, Go's net/http, wrk, ab,
// h2load); and a differential test that feeds the same random byte streams to
// several models and requires the same answers from all of them.
//
// Each server package's test file only calls Run with its Model. Every
// subtest starts its own server on 127.0.0.1:0, shuts it down when it ends,
// and then checks that the process holds no more file descriptors or
// goroutines than when the subtest began.
package conformance

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/readinesslab/readiness/internal/serve"
)

// Model is one server under test.
type Model struct {
	Name  string
	Start func(cfg serve.Config) (serve.Server, error)
	// Serial marks a server that serves one connection at a time: it is
	// started with serve.Config.Serial set, and the subtests that need two
	// connections served at once are skipped.
	Serial bool
}

// test is one subtest of the suite.
type test struct {
	name string
	// concurrent: needs more than one connection served at once.
	concurrent bool
	// configure adjusts the server's settings (timeouts, limits); nil keeps
	// the suite's defaults.
	configure func(cfg *serve.Config)
	run       func(t *testing.T, s *target)
}

// groups lists the suite's subtests by topic, in the order they run.
func groups() []struct {
	name  string
	tests []test
} {
	return []struct {
		name  string
		tests []test
	}{
		{"wire", wireTests()},
		{"sockets", socketTests()},
		{"errors", errorTests()},
		{"rules", ruleTests()},
		{"backpressure", backpressureTests()},
		{"closing", closingTests()},
		{"timeouts", timeoutTests()},
		{"splits", splitTests()},
		{"concurrency", concurrencyTests()},
		{"clients", clientTests()},
	}
}

// Run runs the whole suite against m, one subtest per rule.
func Run(t *testing.T, m Model) {
	warmNetpoll(t)
	for _, g := range groups() {
		t.Run(g.name, func(t *testing.T) {
			for _, tc := range g.tests {
				t.Run(tc.name, func(t *testing.T) {
					if tc.concurrent && m.Serial {
						t.Skipf("%s serves one connection at a time; this test needs several at once", m.Name)
					}
					watchLeaks(t)
					cfg := baseConfig(m)
					if tc.configure != nil {
						tc.configure(&cfg)
					}
					tc.run(t, start(t, m, cfg))
				})
			}
		})
	}
}

// baseConfig is the settings the suite starts m with: the contract's
// defaults on a free loopback port, with two loops, serial for a serial
// model.
func baseConfig(m Model) serve.Config {
	cfg := serve.Default()
	cfg.Addr = "127.0.0.1:0"
	cfg.Loops = 2
	cfg.Serial = m.Serial
	return cfg
}

// target is a server started for one subtest.
type target struct {
	model Model
	addr  string
	cfg   serve.Config
}

// start starts m with cfg and shuts it down when t ends.
func start(t testing.TB, m Model, cfg serve.Config) *target {
	t.Helper()
	srv, err := m.Start(cfg)
	if err != nil {
		t.Fatalf("start %s: %v", m.Name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("shut down %s: %v", m.Name, err)
		}
	})
	return &target{model: m, addr: srv.Addr(), cfg: cfg}
}

// warmNetpoll makes the Go runtime create its netpoller (an epoll instance
// and a wake-up fd, kept for the life of the process) before any subtest
// counts file descriptors, so they are not mistaken for a leak.
func warmNetpoll(t testing.TB) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	c.Close()
	ln.Close()
}
