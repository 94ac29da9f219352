package conformance

import (
	"sync"
	"testing"
	"time"

	"github.com/readinesslab/readiness/internal/serve"
	"github.com/readinesslab/readiness/internal/testnet/netcheck"
)

// delayed is the -delay the delay tests start servers with: long enough
// that one delay after another shows beside the noise of a busy machine.
const delayed = 400 * time.Millisecond

// oneLoop starts the server with one loop and the given delay mode, so
// that two connections share the loop.
func oneLoop(mode string) func(cfg *serve.Config) {
	return func(cfg *serve.Config) {
		cfg.Loops, cfg.Delay, cfg.DelayMode = 1, delayed, mode
	}
}

func delayTests() []test {
	return []test{
		{name: "timer", concurrent: true, configure: oneLoop(serve.DelayTimer), run: func(t *testing.T, s *target) {
			delayTwo(t, s, false)
		}},
		{name: "block", concurrent: true, configure: oneLoop(serve.DelayBlock), run: func(t *testing.T, s *target) {
			// Blocking where the handler runs stalls an event loop, and so
			// its other connection; std waits in each connection's own
			// goroutine.
			delayTwo(t, s, s.model.EventLoops)
		}},
		{name: "order kept behind a delayed batch", configure: func(cfg *serve.Config) {
			cfg.Delay, cfg.DelayMode = delayed/2, serve.DelayTimer
		}, run: testDelayOrder},
	}
}

// delayTwo sends one request on each of two connections of one loop at
// once: neither is answered before the delay, and the second is answered a
// whole delay after the first when oneAfterOther, else with it.
func delayTwo(t *testing.T, s *target, oneAfterOther bool) {
	a, b := s.dial(t), s.dial(t)
	began := time.Now()
	var wg sync.WaitGroup
	var took [2]time.Duration
	for i, c := range []*client{a, b} {
		wg.Go(func() {
			if err := netcheck.RoundTrip(c.c, get, ok, ioTimeout); err != nil {
				t.Errorf("connection %d: %v", i, err)
			}
			took[i] = time.Since(began)
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	first, second := min(took[0], took[1]), max(took[0], took[1])
	if first < delayed {
		t.Errorf("first response after %v, before the delay %v", first, delayed)
	}
	// A busy machine can only make the second answer later, so "late" is
	// judged against a bound a little under two delays.
	if late := second >= 2*delayed-50*time.Millisecond; late != oneAfterOther {
		t.Errorf("second response after %v (first %v): want it a whole delay after the first: %v", second, first, oneAfterOther)
	}
}

// testDelayOrder: while a delayed batch waits, later input of that
// connection is not answered before it: responses stay in order, and each
// waits its delay, counted from no sooner than its request was sent.
func testDelayOrder(t *testing.T, s *target) {
	c := s.dial(t)
	c.send(get + "HEAD / HTTP/1.1\r\nHost: localhost\r\n\r\n")
	time.Sleep(s.cfg.Delay / 4)
	second := time.Now()
	c.send("GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
	c.expect(ok + head(ok) + okClose)
	if d := time.Since(second); d < s.cfg.Delay {
		t.Errorf("the second batch answered %v after it was sent, before the delay of %v", d, s.cfg.Delay)
	}
	c.expectClosed()
}
