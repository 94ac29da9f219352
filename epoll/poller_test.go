package epoll

import (
	"testing"
	"time"
)

func newTestPoller(t *testing.T) *poller {
	t.Helper()
	p, err := newPoller(false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.close)
	return p
}

// A pending event is found by the first, non-blocking poll.
func TestWaitPolls(t *testing.T) {
	p := newTestPoller(t)
	if err := p.wake(); err != nil {
		t.Fatal(err)
	}
	n, err := p.wait(-1)
	if err != nil || n != 1 {
		t.Fatalf("wait = %d, %v; want the eventfd", n, err)
	}
	if key, _, _ := p.event(0); key != tagWake {
		t.Fatalf("event tagged %d, want the eventfd's %d", key, tagWake)
	}
}

// With nothing pending, the wait blocks until an event arrives, or returns
// empty when its deadline passes.
func TestWaitBlocks(t *testing.T) {
	p := newTestPoller(t)
	go func() {
		time.Sleep(20 * time.Millisecond)
		p.wake()
	}()
	n, err := p.wait(-1)
	if err != nil || n != 1 {
		t.Fatalf("wait = %d, %v; want the eventfd", n, err)
	}
	p.woken()
	if n, err := p.wait(1); err != nil || n != 0 {
		t.Fatalf("wait(1 ms) = %d, %v; want 0 events", n, err)
	}
}
