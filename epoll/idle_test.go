package epoll

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"runtime"
	"strings"
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
	if err := p.setIdle(mode, false, 1); err != nil {
		t.Fatal(err)
	}
	return p
}

// In every mode a pending event is returned at once, a wait with nothing
// pending sleeps until an event (woken before the hold ends, and after it),
// and a wait with a deadline returns empty once it has passed, not before
// (a signal does not end it early), and not long after.
func TestIdleWaitSteps(t *testing.T) {
	for _, mode := range idleModes {
		t.Run(mode, func(t *testing.T) {
			p := newIdlePoller(t, mode)
			p.wake()
			if n, err := p.wait(-1); err != nil || n != 1 {
				t.Fatalf("pending: wait = %d, %v; want the eventfd", n, err)
			}
			if key, _, _ := p.event(0); key != tagWake {
				t.Fatalf("event tagged %d, want the eventfd's %d", key, tagWake)
			}
			p.woken()
			for _, after := range []time.Duration{time.Millisecond, 3 * holdMax * time.Millisecond} {
				time.AfterFunc(after, func() { p.wake() })
				if n, err := boundedWait(t, p, -1); err != nil || n != 1 {
					t.Fatalf("woken after %v: wait = %d, %v; want the eventfd", after, n, err)
				}
				p.woken()
			}
			for _, msec := range []int{1, holdMax / 2, 2 * holdMax} {
				began := time.Now()
				if n, err := boundedWait(t, p, msec); err != nil || n != 0 {
					t.Fatalf("wait(%d ms) = %d, %v; want 0 events", msec, n, err)
				}
				if took := time.Since(began); took < time.Duration(msec)*time.Millisecond {
					t.Fatalf("wait(%d ms) returned after %v, before its deadline", msec, took)
				}
			}
		})
	}
}

// boundedWait runs p.wait(msec) and fails the test if it has not returned
// 2 s after its deadline (5 s when it has none and an event is due).
func boundedWait(t *testing.T, p *poller, msec int) (int, error) {
	t.Helper()
	type result struct {
		n   int
		err error
	}
	done := make(chan result, 1)
	go func() {
		n, err := p.wait(msec)
		done <- result{n, err}
	}()
	limit := 5 * time.Second
	if msec >= 0 {
		limit = time.Duration(msec)*time.Millisecond + 2*time.Second
	}
	select {
	case r := <-done:
		return r.n, r.err
	case <-time.After(limit):
		p.wake() // let the stuck wait return before the poller closes
		<-done
		t.Fatalf("wait(%d ms) still blocked after %v", msec, limit)
		return 0, nil
	}
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
		c := dial(t, s)
		for _, pause := range []time.Duration{0, time.Millisecond, 2 * holdMax * time.Millisecond} {
			time.Sleep(pause)
			testnet.Send(t, c, get)
			testnet.Expect(t, c, proto.OK, wait)
		}
		go io.WriteString(c, strings.Repeat(get, 1000))
		testnet.Expect(t, c, bytes.Repeat(proto.OK, 1000), wait)
		converseAll(t, s.Addr(), 60, 10)
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

// Past its hold, a loop sleeps where its mode says: parked in the runtime's
// netpoller ("IO wait", its P free and its thread not held) when its
// listener is its own, blocked in a system call ("syscall") when the
// listener is shared, since a nested set would defeat EPOLLEXCLUSIVE, and
// in block mode.
func TestIdleLongSleep(t *testing.T) {
	for _, tc := range []struct {
		mode   string
		shared bool
		state  string
	}{
		{serve.IdleHold, false, "IO wait"},
		{serve.IdleHold, true, "syscall"},
		{serve.IdleSpin, false, "IO wait"},
		{serve.IdleSpin, true, "syscall"},
		{serve.IdlePark, false, "IO wait"},
		{serve.IdlePark, true, "IO wait"},
		{serve.IdleBlock, false, "syscall"},
	} {
		name := fmt.Sprintf("%s/shared=%v", tc.mode, tc.shared)
		t.Run(name, func(t *testing.T) {
			p := newTestPoller(t)
			if err := p.setIdle(tc.mode, tc.shared, 1); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() {
				_, err := p.wait(-1)
				done <- err
			}()
			defer func() {
				p.wake()
				if err := <-done; err != nil {
					t.Errorf("wait: %v", err)
				}
			}()
			time.Sleep(2 * holdMax * time.Millisecond)
			var state string
			for end := time.Now().Add(2 * time.Second); time.Now().Before(end); time.Sleep(5 * time.Millisecond) {
				if state = waitState(); state == tc.state {
					return
				}
			}
			t.Errorf("the sleeping wait's goroutine is in state %q, want %q", state, tc.state)
		})
	}
}

// waitState is the state of the goroutine inside poller.wait, as a
// goroutine dump shows it ("running", "syscall", "IO wait"), or "" if none
// is there.
func waitState() string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	for _, g := range strings.Split(string(buf), "\n\n") {
		if !strings.Contains(g, "epoll.(*poller).wait(") {
			continue
		}
		head, _, _ := strings.Cut(g, "\n")
		_, state, ok := strings.Cut(head, "[")
		if !ok {
			return head
		}
		state, _, _ = strings.Cut(state, "]")
		state, _, _ = strings.Cut(state, ",") // "IO wait, 2 minutes"
		return state
	}
	return ""
}

// With more loops than Ps, hold and spin keep no P while idle: they sleep
// at once as their hold would end (park, or block with a shared listener),
// so a loop with work never waits out another loop's hold for a P.
func TestIdleMoreLoopsThanPs(t *testing.T) {
	ps := runtime.GOMAXPROCS(0)
	for _, tc := range []struct {
		mode   string
		shared bool
		loops  int
		want   string
	}{
		{serve.IdleHold, false, ps, serve.IdleHold},
		{serve.IdleHold, false, ps + 1, serve.IdlePark},
		{serve.IdleHold, true, ps + 1, serve.IdleBlock},
		{serve.IdleSpin, false, ps + 1, serve.IdlePark},
		{serve.IdleSpin, true, ps, serve.IdleSpin},
		{serve.IdleBlock, false, ps + 1, serve.IdleBlock},
		{serve.IdlePark, true, ps + 1, serve.IdlePark},
	} {
		p := newTestPoller(t)
		if err := p.setIdle(tc.mode, tc.shared, tc.loops); err != nil {
			t.Fatal(err)
		}
		hold := 0
		if tc.want == serve.IdleHold {
			hold = holdMax
		}
		if p.idle.mode != tc.want || p.holdFor(-1) != hold || p.parks() != (tc.want == serve.IdlePark || (tc.want != serve.IdleBlock && !tc.shared)) {
			t.Errorf("%s, shared %v, %d loops on %d Ps: mode %s, hold %d ms, parks %v; want %s, %d ms",
				tc.mode, tc.shared, tc.loops, ps, p.idle.mode, p.holdFor(-1), p.parks(), tc.want, hold)
		}
	}
}
