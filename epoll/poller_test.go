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

// A pending event is found by the first, non-blocking poll, and leaves the
// hold as it was.
func TestWaitPolls(t *testing.T) {
	p := newTestPoller(t)
	p.holding = true
	if err := p.wake(); err != nil {
		t.Fatal(err)
	}
	n, err := p.wait(-1)
	if err != nil || n != 1 {
		t.Fatalf("wait = %d, %v; want the eventfd", n, err)
	}
	if fd, _ := p.event(0); fd != int32(p.wakefd) {
		t.Fatalf("event on fd %d, want the eventfd %d", fd, p.wakefd)
	}
	if !p.holding {
		t.Fatal("a wait that did not block stopped the hold")
	}
}

// A gap longer than the hold ends the hold, so that a loop that is not
// busy blocks at once from then on, and the wait still returns the event
// that ended the gap.
func TestWaitStopsHoldingAfterLongGap(t *testing.T) {
	p := newTestPoller(t)
	if p.hold == 0 {
		t.Fatal("no hold configured")
	}
	p.holding = true
	const gap = 50 * time.Millisecond // far longer than the 200 µs hold
	go func() {
		time.Sleep(gap)
		p.wake()
	}()
	n, err := p.wait(-1)
	if err != nil || n != 1 {
		t.Fatalf("wait = %d, %v; want the eventfd", n, err)
	}
	if p.holding {
		t.Fatal("still holding after a gap longer than the hold")
	}
	p.woken()

	// A wait with a deadline and nothing to report returns empty.
	if n, err := p.wait(1); err != nil || n != 0 {
		t.Fatalf("wait(1 ms) = %d, %v; want 0 events", n, err)
	}
}
