package epoll

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/readinesslab/readiness/internal/proto"
	"github.com/readinesslab/readiness/internal/serve"
	"github.com/readinesslab/readiness/internal/testnet"
)

var idleModes = []string{serve.IdleHold, serve.IdleBlock, serve.IdleSpin, serve.IdlePark}

// eachIdle runs f under every idle mode, with two loops.
func eachIdle(t *testing.T, f func(t *testing.T, cfg serve.Config)) {
	for _, mode := range idleModes {
		t.Run(mode, func(t *testing.T) {
			cfg := testConfig()
			cfg.Loops, cfg.Idle = 2, mode
			f(t, cfg)
		})
	}
}

func newIdlePoller(t *testing.T, mode string) *poller {
	t.Helper()
	p := newTestPoller(t)
	if err := p.setIdle(mode); err != nil {
		t.Fatal(err)
	}
	return p
}

// In every mode a pending event is returned at once, a wait with nothing
// pending sleeps until an event (woken before the hold ends, and after it),
// and a wait with a deadline returns empty once it passes.
func TestIdleWaitSteps(t *testing.T) {
	for _, mode := range idleModes {
		t.Run(mode, func(t *testing.T) {
			p := newIdlePoller(t, mode)
			p.wake()
			if n, err := p.wait(-1); err != nil || n != 1 {
				t.Fatalf("pending: wait = %d, %v; want the eventfd", n, err)
			}
			if fd, _ := p.event(0); fd != int32(p.wakefd) {
				t.Fatalf("event on fd %d, want the eventfd %d", fd, p.wakefd)
			}
			p.woken()
			for _, after := range []time.Duration{time.Millisecond, 3 * holdMax * time.Millisecond} {
				time.AfterFunc(after, func() { p.wake() })
				n, err := waitForEvent(p, -1, 5*time.Second)
				if err != nil || n != 1 {
					t.Fatalf("woken after %v: wait = %d, %v; want the eventfd", after, n, err)
				}
				p.woken()
			}
			for _, msec := range []int{1, holdMax / 2, 2 * holdMax} {
				// A signal may end a wait early, with 0 events, but it must
				// not overrun its deadline; only the overrun is checked,
				// generously, and a wait that never returns fails the test.
				done := make(chan error, 1)
				go func() {
					n, err := p.wait(msec)
					if err == nil && n != 0 {
						err = fmt.Errorf("%d events", n)
					}
					done <- err
				}()
				select {
				case err := <-done:
					if err != nil {
						t.Fatalf("wait(%d ms): %v; want 0 events", msec, err)
					}
				case <-time.After(time.Duration(msec)*time.Millisecond + 2*time.Second):
					p.wake() // let the stuck wait return before the poller closes
					<-done
					t.Fatalf("wait(%d ms) overran its deadline", msec)
				}
			}
		})
	}
}

// waitForEvent waits as the loop does, again after an empty return (a
// signal ends a wait with 0 events), until an event or the limit.
func waitForEvent(p *poller, msec int, limit time.Duration) (int, error) {
	end := time.Now().Add(limit)
	for time.Now().Before(end) {
		n, err := p.wait(msec)
		if n != 0 || err != nil {
			return n, err
		}
	}
	return 0, nil
}

// The hold is the first poll's timeout only in the hold mode, and never
// longer than the wait's own.
func TestHoldFor(t *testing.T) {
	for _, tc := range []struct {
		mode      string
		msec, out int
	}{
		{serve.IdleHold, -1, holdMax},
		{serve.IdleHold, 0, 0},
		{serve.IdleHold, 3, 3},
		{serve.IdleHold, holdMax + 1, holdMax},
		{serve.IdleBlock, -1, 0},
		{serve.IdleSpin, 5, 0},
		{serve.IdlePark, -1, 0},
	} {
		p := &poller{idle: idler{mode: tc.mode}}
		if got := p.holdFor(tc.msec); got != tc.out {
			t.Errorf("%s: holdFor(%d) = %d, want %d", tc.mode, tc.msec, got, tc.out)
		}
	}
}

// Many connections, each with requests one at a time and pauses that cross
// the hold, so every mode sleeps and wakes in each of its steps.
func TestIdleManyConnections(t *testing.T) {
	eachIdle(t, func(t *testing.T, cfg serve.Config) {
		s := start(t, cfg)
		var wg sync.WaitGroup
		errs := make(chan error, 60)
		for i := 0; i < 60; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs <- converse(s.Addr(), 10)
			}()
		}
		c := dial(t, s)
		for _, pause := range []time.Duration{0, time.Millisecond, 2 * holdMax * time.Millisecond} {
			time.Sleep(pause)
			testnet.Send(t, c, get)
			testnet.Expect(t, c, proto.OK, wait)
		}
		go io.WriteString(c, strings.Repeat(get, 1000))
		testnet.Expect(t, c, bytes.Repeat(proto.OK, 1000), wait)
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
	})
}

// The loop's timers fire in every mode while it sleeps: an idle connection
// is closed after the idle timeout, not before and not much after.
func TestIdleModeTimers(t *testing.T) {
	eachIdle(t, func(t *testing.T, cfg serve.Config) {
		cfg.IdleTimeout = 200 * time.Millisecond
		s := start(t, cfg)
		c := dial(t, s)
		testnet.Send(t, c, get)
		testnet.Expect(t, c, proto.OK, wait)
		began := time.Now()
		testnet.ExpectClosed(t, c, wait)
		if d := time.Since(began); d < 150*time.Millisecond || d > 3*time.Second {
			t.Errorf("closed after %v, want about the idle timeout (200ms)", d)
		}
	})
}

// Shutdown reaches loops asleep in every mode, long past the hold: the idle
// connections get EOF and Shutdown returns.
func TestIdleModeShutdown(t *testing.T) {
	eachIdle(t, func(t *testing.T, cfg serve.Config) {
		testnet.NoLeaks(t)
		s, err := Start(cfg)
		if err != nil {
			t.Fatal(err)
		}
		var conns []net.Conn
		for i := 0; i < 8; i++ {
			c := testnet.Dial(t, s.Addr())
			testnet.Send(t, c, get)
			testnet.Expect(t, c, proto.OK, wait)
			conns = append(conns, c)
		}
		time.Sleep(3 * holdMax * time.Millisecond)
		errc := testnet.ShutdownAsync(s)
		for _, c := range conns {
			testnet.ExpectEOF(t, c, wait)
		}
		if err := <-errc; err != nil {
			t.Fatalf("Shutdown: %v", err)
		}
		testnet.ExpectRefused(t, s.Addr())
	})
}
