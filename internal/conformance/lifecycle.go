package conformance

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/readinesslab/readiness/internal/serve"
	"github.com/readinesslab/readiness/internal/testnet"
	"github.com/readinesslab/readiness/internal/testnet/netcheck"
)

// Start and Shutdown, as the server packages offer them to the CLI.

// The in-flight shutdown: how long each response is held, how many
// connections hold one (the first with a pipelined batch).
const (
	flightDelay = 500 * time.Millisecond
	flightConns = 20
	flightBatch = 16
)

func lifecycleTests() []test {
	return []test{
		{name: "start errors", model: testStartErrors},
		{name: "shutdown in flight, timer", configure: inFlight(serve.DelayTimer), run: testShutdownInFlight},
		{name: "shutdown in flight, block", configure: inFlight(serve.DelayBlock), run: testShutdownInFlight},
		{name: "shutdown forced", configure: func(cfg *serve.Config) {
			cfg.Delay, cfg.DelayMode = time.Minute, serve.DelayTimer
		}, run: testShutdownForced},
	}
}

// testStartErrors: Start refuses a setting out of range, and an address
// another socket holds (without SO_REUSEPORT), and leaves nothing behind.
func testStartErrors(t *testing.T, m Model) {
	cfg := baseConfig(m)
	cfg.DelayMode = "sideways"
	if s, err := m.Start(cfg); err == nil {
		s.Shutdown(context.Background())
		t.Errorf("%s started with -delay-mode %q", m.Name, cfg.DelayMode)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cfg = baseConfig(m)
	cfg.Addr = ln.Addr().String()
	if s, err := m.Start(cfg); err == nil {
		s.Shutdown(context.Background())
		t.Errorf("%s started on %s, an address in use", m.Name, cfg.Addr)
	}
}

func inFlight(mode string) func(cfg *serve.Config) {
	return func(cfg *serve.Config) { cfg.Delay, cfg.DelayMode = flightDelay, mode }
}

// testShutdownInFlight starts Shutdown while delayed responses are held:
// every one of them must arrive whole, each connection must then be closed
// (and so must an idle one and one in the middle of a head), Shutdown must
// return nil within the contract's bound, and the listener must be gone.
func testShutdownInFlight(t *testing.T, s *target) {
	n := flightConns
	if s.model.Serial || s.cfg.DelayMode == serve.DelayBlock {
		// A blocked loop answers its connections one delay after another;
		// one connection with a batch in flight is the case that matters.
		n = 1
	}
	clients := make([]*net.TCPConn, n)
	want := make([]string, n)
	for i := range clients {
		k := 1
		if i == 0 {
			k = flightBatch
		}
		c := s.dial(t)
		c.send(strings.Repeat(get, k))
		clients[i], want[i] = c.c, strings.Repeat(ok, k)
	}
	var idle, partial *client
	if !s.model.Serial {
		// Served before, so accepted: it must be closed with nothing more.
		idle = s.dial(t)
		idle.send("HEAD / HTTP/1.1\r\nHost: localhost\r\n\r\n")
		idle.expect(head(ok))
		partial = s.dial(t)
		partial.send(get[:5])
	}
	// Shutdown starts once the server has read every request: their
	// responses are in flight, held for the delay.
	if err := testnet.WaitRead(s.addr, clients, ioTimeout); err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	shut := testnet.ShutdownAsync(s.srv)

	var wg sync.WaitGroup
	for i, c := range clients {
		wg.Go(func() {
			c.SetReadDeadline(time.Now().Add(testnet.ShutdownBound))
			if err := netcheck.Expect(c, want[i]); err != nil {
				t.Errorf("client %d, its responses in flight: %v", i, err)
				return
			}
			if err := netcheck.ExpectEOF(c, testnet.ShutdownBound); err != nil {
				t.Errorf("client %d, after its responses: %v", i, err)
			}
		})
	}
	wg.Wait()
	if idle != nil {
		testnet.ExpectEOF(t, idle.c, testnet.ShutdownBound)
		// One in the middle of a head may still wait in the backlog of a
		// loop held by a blocking delay: the server may then turn it away
		// with 503 as it shuts down, as it may any connection it accepts
		// after Shutdown began.
		if got, end := partial.readAll(testnet.ShutdownBound); !end.Closed() || len(got) > 0 && string(got) != serviceUnavailable {
			t.Errorf("a connection in the middle of a head: got %q then %s, want it closed (after a 503 at most)", clip(got), end)
		}
	}
	select {
	case err := <-shut:
		took := time.Since(began)
		if err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if took > testnet.ShutdownBound {
			t.Errorf("Shutdown took %v, over the contract's %v", took, testnet.ShutdownBound)
		}
	case <-time.After(2 * testnet.ShutdownBound):
		t.Fatalf("Shutdown did not return within %v", 2*testnet.ShutdownBound)
	}
	testnet.ExpectRefused(t, s.addr)
}

// testShutdownForced: when Shutdown's context ends first (a response is
// held for a minute), Shutdown returns the context's error at once and
// every connection is closed.
func testShutdownForced(t *testing.T, s *target) {
	c := s.dial(t)
	c.send(get)
	if err := testnet.WaitRead(s.addr, []*net.TCPConn{c.c}, ioTimeout); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	began := time.Now()
	if err := s.srv.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown: %v, want the context's error", err)
	}
	if d := time.Since(began); d > 3*time.Second {
		t.Errorf("Shutdown took %v after its context ended", d)
	}
	testnet.ExpectClosed(t, c.c, ioTimeout)
}
