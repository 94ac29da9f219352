package conformance

import (
	"testing"
	"time"

	"github.com/readinesslab/readiness/internal/serve"
	"github.com/readinesslab/readiness/internal/testnet"
)

// The short timeouts the timeout tests start servers with. Lower bounds are
// checked at half the setting, upper bounds generously: a loaded machine
// makes a timer late, never early.
const (
	shortIdle   = 300 * time.Millisecond
	shortHeader = 300 * time.Millisecond
	lateBound   = 5 * time.Second
)

func withIdle(cfg *serve.Config) { cfg.IdleTimeout, cfg.HeaderTimeout = shortIdle, 0 }

func withHeader(cfg *serve.Config) { cfg.IdleTimeout, cfg.HeaderTimeout = 0, shortHeader }

func timeoutTests() []test {
	return []test{
		{name: "idle new connection", configure: withIdle, run: func(t *testing.T, s *target) {
			c := s.dial(t)
			expectClosedAfter(t, c, time.Now(), shortIdle, "")
		}},
		{name: "idle after a request", configure: withIdle, run: func(t *testing.T, s *target) {
			c := s.dial(t)
			c.send(get)
			c.expect(ok)
			expectClosedAfter(t, c, time.Now(), shortIdle, "")
		}},
		{name: "idle in a body", configure: withIdle, run: func(t *testing.T, s *target) {
			// The head is complete; a body that stops arriving leaves the
			// connection waiting on the client, as idle as before a request.
			c := s.dial(t)
			c.send("POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 10\r\n\r\nabc")
			expectClosedAfter(t, c, time.Now(), shortIdle, "")
		}},
		{name: "idle reset by requests", configure: func(cfg *serve.Config) {
			cfg.IdleTimeout, cfg.HeaderTimeout = time.Second, 0
		}, run: func(t *testing.T, s *target) {
			c := s.dial(t)
			// Eight requests a fifth of the timeout apart, longer than the
			// timeout in all: the connection is never idle for the whole
			// timeout, with room for a late wake-up on a busy machine.
			for range 8 {
				c.send(get)
				c.expect(ok)
				time.Sleep(200 * time.Millisecond)
			}
		}},
		{name: "header timeout", configure: withHeader, run: func(t *testing.T, s *target) {
			c := s.dial(t)
			c.send("GET / HTTP/1.1\r\nHost: local")
			expectClosedAfter(t, c, time.Now(), shortHeader, requestTimeout)
		}},
		{name: "header timeout slow client", configure: func(cfg *serve.Config) {
			// An idle timeout shorter than the header timeout: a head in
			// progress is not idle, however slowly it comes.
			cfg.IdleTimeout, cfg.HeaderTimeout = shortHeader/2, shortHeader
		}, run: testSlowHeader},
		{name: "header timeout after a request", configure: withHeader, run: func(t *testing.T, s *target) {
			c := s.dial(t)
			c.send(get)
			c.expect(ok)
			c.send("GET /")
			expectClosedAfter(t, c, time.Now(), shortHeader, requestTimeout)
		}},
		{name: "header timeout starts at the first byte", configure: withHeader, run: func(t *testing.T, s *target) {
			c := s.dial(t)
			time.Sleep(2 * shortHeader)
			c.send(get)
			c.expect(ok)
			time.Sleep(2 * shortHeader)
			c.send(get)
			c.expect(ok)
			c.expectOpen()
		}},
		{name: "head completed in time", configure: func(cfg *serve.Config) {
			cfg.IdleTimeout, cfg.HeaderTimeout = 0, 2*time.Second
		}, run: func(t *testing.T, s *target) {
			// Four pieces over 150 ms: well within the timeout even when
			// the machine is busy.
			c := s.dial(t)
			for _, part := range []string{"GET / HT", "TP/1.1\r\nHo", "st: x\r\n", "\r\n"} {
				c.send(part)
				time.Sleep(50 * time.Millisecond)
			}
			c.expect(ok)
			c.expectOpen()
		}},
		{name: "503 over max conns", concurrent: true, configure: func(cfg *serve.Config) { cfg.MaxConns = 2 }, run: testMaxConns},
	}
}

// expectClosedAfter requires c to receive exactly want and then be closed,
// no sooner than half of timeout after since and within lateBound.
func expectClosedAfter(t *testing.T, c *client, since time.Time, timeout time.Duration, want string) {
	t.Helper()
	got, e := c.readAll(lateBound)
	took := time.Since(since)
	if string(got) != want || e != endEOF {
		t.Fatalf("after %v: got %q then %s, want %q then the connection closed (EOF)", took, clip(got), e, want)
	}
	if took < timeout/2 {
		t.Fatalf("closed after %v, before the %v timeout", took, timeout)
	}
}

// testSlowHeader: a client sending its head one byte at a time, never
// finishing within the header timeout, gets 408.
func testSlowHeader(t *testing.T, s *target) {
	c := s.dial(t)
	const head = "GET /slowly HTTP/1.1\r\nHost: localhost\r\nUser-Agent: one byte at a time\r\n\r\n"
	first := time.Now()
	c.send(head[:1])
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 1; i < len(head); i++ {
			select {
			case <-stop:
				return
			case <-time.After(shortHeader / 6):
			}
			// The server closes after its 408: a failed write ends the trickle.
			if _, err := c.c.Write([]byte{head[i]}); err != nil {
				return
			}
		}
	}()
	expectClosedAfter(t, c, first, shortHeader, requestTimeout)
	close(stop)
	<-done
}

// testMaxConns: with room for two connections, a third is answered 503 and
// closed at once, without the drain, the first two are still served, and
// once one leaves a new connection is served again.
func testMaxConns(t *testing.T, s *target) {
	a, b := s.dial(t), s.dial(t)
	for _, c := range []*client{a, b} {
		c.send(get)
		c.expect(ok)
	}
	extra := s.dial(t)
	extra.expect(serviceUnavailable)
	extra.expectClosed()
	// Closed at once, without the drain: a write soon draws a reset, and a
	// following write fails.
	closedBy := time.Now().Add(700 * time.Millisecond)
	for {
		if _, err := extra.c.Write([]byte(get)); err != nil {
			break
		}
		if time.Now().After(closedBy) {
			t.Fatal("the connection answered 503 is still open after 700ms: want it closed at once, without the drain")
		}
		time.Sleep(10 * time.Millisecond)
	}
	for _, c := range []*client{a, b} {
		c.send(get)
		c.expect(ok)
	}
	// When one leaves, the server makes room again once it has noticed.
	a.c.Close()
	testnet.AwaitServed(t, s.addr, lateBound)
	b.send(get)
	b.expect(ok)
}
