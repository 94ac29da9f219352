// Package stress is the hostile-client and fault suite: one test body run
// against every server model, like the conformance suite. Each case points a
// strange client (or a fault) at an in-process server on 127.0.0.1 and checks
// that the server keeps serving, leaks nothing and loses no response.
//
// The cases change process-wide settings (the open-file limit) and count the
// process's file descriptors and goroutines, so they run one after another,
// never in parallel with each other or with other tests of the package.
package stress

import (
	"context"
	"net"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/readinesslab/readiness/internal/conformance"
	"github.com/readinesslab/readiness/internal/serve"
)

// Run runs every case against model m, each as a subtest. A case that does
// not apply to the serial server (one connection at a time) is skipped for
// it with the reason.
func Run(t *testing.T, m conformance.Model) {
	// The runtime opens its netpoller's descriptors on first use and keeps
	// them: open them now, so no case counts them as a leak.
	if ln, err := net.Listen("tcp", "127.0.0.1:0"); err == nil {
		ln.Close()
	}
	cases := []struct {
		name   string
		run    func(*testing.T, conformance.Model)
		serial string // why the case does not apply to the serial server; "" when it does
	}{
		{"Churn", testChurn, ""},
		{"NeverReads", testNeverReads, "one client holds the only connection the serial server serves"},
		{"MaxConns", testMaxConns, "the serial server holds one connection at a time; the rest wait in the backlog"},
		{"LowNofile", testLowNofile, "the serial server holds one connection at a time; the rest wait in the backlog"},
		{"AcceptEMFILE", testAcceptEMFILE, "the serial server holds one connection at a time; the rest wait in the backlog"},
		{"IdleTimeout", testIdleTimeout, ""},
		{"HeaderTimeout", testHeaderTimeout, ""},
		{"Scale", testScale, "10000 concurrent connections need a server that serves them concurrently"},
		{"Shutdown", testShutdown, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if m.Serial && c.serial != "" {
				t.Skip("serial: " + c.serial)
			}
			c.run(t, m)
		})
	}
}

// config is the base configuration of a case: the contract's defaults on a
// free loopback port, with the model's serial setting.
func config(m conformance.Model) serve.Config {
	c := serve.Default()
	c.Addr = "127.0.0.1:0"
	c.Serial = m.Serial
	return c
}

// server is a started server that the test's end shuts down unless the
// test already did.
type server struct {
	serve.Server
	shut atomic.Bool
}

// Shutdown shuts the server down now, instead of at the test's end.
func (s *server) Shutdown(ctx context.Context) error {
	s.shut.Store(true)
	return s.Server.Shutdown(ctx)
}

// start starts m with cfg and shuts it down when the test ends.
func start(t *testing.T, m conformance.Model, cfg serve.Config) *server {
	t.Helper()
	// The std server sets GOMAXPROCS from Loops for the whole process.
	procs := runtime.GOMAXPROCS(0)
	t.Cleanup(func() { runtime.GOMAXPROCS(procs) })
	inner, err := m.Start(cfg)
	if err != nil {
		t.Fatalf("start %s: %v", m.Name, err)
	}
	s := &server{Server: inner}
	t.Cleanup(func() {
		if s.shut.Load() {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Server.Shutdown(ctx); err != nil {
			t.Errorf("shutdown %s: %v", m.Name, err)
		}
	})
	return s
}
