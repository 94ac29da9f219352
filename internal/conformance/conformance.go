// Package conformance is the one test body every server model runs, in
// every setting it has (epoll's trigger and accept modes): the contract's
// wire rules on raw sockets, byte for byte; requests split at every
// boundary and pipelined by the thousand; hundreds of concurrent
// connections; half-closes and resets; timeouts and the connection cap;
// delays, start and shutdown; real clients (curl, Go's net/http, wrk, ab,
// h2load); the hostile clients and faults (churn, a client that never
// reads, descriptors run out, ten thousand connections); and a
// differential test that feeds the same random byte streams to several
// models and requires the same answers from all of them.
//
// Each server package's test file only calls Run with its Model, once per
// setting. Every subtest starts its own server on 127.0.0.1:0 and shuts it
// down when it ends. Subtests run in parallel (they mostly wait on the
// network and on timers), except those marked alone, which change or
// measure the whole process and run first, one at a time. Each alone
// subtest, and the whole run once everything has ended, checks that the
// process holds no more file descriptors or goroutines than when it began.
package conformance

import (
	"context"
	"fmt"
	"net"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/readinesslab/readiness/internal/serve"
	"github.com/readinesslab/readiness/internal/testnet"
)

// Model is one server under test, in one setting.
type Model struct {
	Name  string
	Start func(cfg serve.Config) (serve.Server, error)
	// Serial marks a server that serves one connection at a time: it is
	// started with serve.Config.Serial set, and the subtests that need two
	// connections served at once are skipped.
	Serial bool
	// EventLoops marks a model whose connections share event loops (epoll,
	// gnet): a delay in block mode holds every connection of its loop.
	EventLoops bool
	// Repeat marks a run of a model already run in another setting
	// (epoll's modes after the first): the subtests marked sameEverywhere
	// are skipped on it, saying so.
	Repeat bool
}

// test is one subtest of the suite.
type test struct {
	name string
	// concurrent: needs more than one connection served at once.
	concurrent bool
	// alone: changes or measures the whole process (the open-file limit,
	// its CPU time, its heap), so it runs by itself and checks its own
	// leaks. A group with such a test runs all its tests one at a time,
	// before the groups that run in parallel.
	alone bool
	// sameEverywhere: what it checks cannot depend on the model's setting
	// (see Model.Repeat); a comment at the test says why.
	sameEverywhere bool
	// configure adjusts the server's settings (timeouts, limits); nil keeps
	// the suite's defaults.
	configure func(cfg *serve.Config)
	// run is given a server started for it; model, when set instead, is
	// given the model and starts what it needs itself.
	run   func(t *testing.T, s *target)
	model func(t *testing.T, m Model)
}

// group is a topic's subtests.
type group struct {
	name  string
	tests []test
}

// groups lists the suite's subtests by topic, in the order they start. A
// file that adds a group adds its line here.
func groups() []group {
	return []group{
		{"wire", wireTests()},
		{"sockets", socketTests()},
		{"errors", errorTests()},
		{"rules", ruleTests()},
		{"backpressure", backpressureTests()},
		{"closing", closingTests()},
		{"timeouts", timeoutTests()},
		{"splits", splitTests()},
		{"concurrency", concurrencyTests()},
		{"delay", delayTests()},
		{"lifecycle", lifecycleTests()},
		{"clients", clientTests()},
		{"hostile", hostileTests()},
		{"faults", faultTests()},
	}
}

// Run runs the whole suite against m, one subtest per rule. The groups of
// tests marked alone run first, one test at a time; then every other test
// of every group runs, in parallel. The whole run checks at its end that
// nothing leaked, and each alone test checks that for itself.
func Run(t *testing.T, m Model) {
	warmNetpoll(t)
	// Registered first, so checked after every subtest, the parallel ones
	// included, has ended and every server has shut down.
	watchLeaks(t)
	for _, g := range groups() {
		alone := slices.ContainsFunc(g.tests, func(tc test) bool { return tc.alone })
		t.Run(g.name, func(t *testing.T) {
			if !alone {
				t.Parallel()
			}
			for _, tc := range g.tests {
				t.Run(tc.name, func(t *testing.T) {
					switch {
					case tc.concurrent && m.Serial:
						t.Skipf("%s serves one connection at a time; this test needs several at once", m.Name)
					case tc.sameEverywhere && m.Repeat:
						t.Skip("what this test checks does not depend on the setting: it runs in the model's first setting only")
					}
					if alone {
						watchLeaks(t)
					} else {
						t.Parallel()
					}
					if tc.model != nil {
						tc.model(t, m)
						return
					}
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
	srv   *server
}

// server is a started server that the test's end shuts down unless the
// test already did.
type server struct {
	serve.Server
	shut atomic.Bool
}

// Shutdown shuts the server down the first time it is called; later calls
// (the test's end, after a test that shut it down itself) do nothing.
func (s *server) Shutdown(ctx context.Context) error {
	if s.shut.Swap(true) {
		return nil
	}
	return s.Server.Shutdown(ctx)
}

// start starts m with cfg and shuts it down when t ends.
func start(t testing.TB, m Model, cfg serve.Config) *target {
	t.Helper()
	srv := testnet.Start(t, func(cfg serve.Config) (*server, error) {
		s, err := m.Start(cfg)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", m.Name, err)
		}
		return &server{Server: s}, nil
	}, cfg)
	return &target{model: m, addr: srv.Addr(), cfg: cfg, srv: srv}
}

// leakSettle is how long a group's or a subtest's cleanup waits for file
// descriptors and goroutines to return to their starting counts: closes
// and goroutine exits that follow a shutdown may take a moment to land.
const leakSettle = 5 * time.Second

// watchLeaks records the process's open file descriptors and goroutines now
// and, when t ends (after every cleanup registered later, such as the
// servers' shutdowns), fails t unless both are back to at most those
// counts.
func watchLeaks(t *testing.T) {
	t.Helper()
	testnet.NoLeaksWithin(t, leakSettle)
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
