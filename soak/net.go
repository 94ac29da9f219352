package soak

import (
	"context"
	"net"
	"time"
)

// ioTimeout bounds every single exchange a client waits on, so a server
// that stops answering shows as a failure instead of a hang. It is generous:
// the machine is shared and a late answer is not what the soak looks for.
const ioTimeout = 10 * time.Second

// dial connects to addr. The connection is closed when ctx ends, which
// unblocks whatever the client is doing with it; the returned stop undoes
// that and must be called once the connection is closed by the client.
func dial(ctx context.Context, addr string) (*net.TCPConn, func() bool, error) {
	d := net.Dialer{Timeout: ioTimeout}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, nil, err
	}
	tc := c.(*net.TCPConn)
	return tc, context.AfterFunc(ctx, func() { tc.Close() }), nil
}

// sleep waits d or until ctx ends, and reports whether the full wait passed.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// pacer spaces a loop's iterations every so often on a fixed schedule. A
// loop that falls behind skips the missed slots instead of bursting.
type pacer struct {
	every time.Duration
	next  time.Time
}

func newPacer(every time.Duration, phase time.Duration) *pacer {
	return &pacer{every: every, next: time.Now().Add(phase)}
}

// wait sleeps until the next slot and reports false when ctx ended first.
func (p *pacer) wait(ctx context.Context) bool {
	now := time.Now()
	if p.next.Before(now) {
		p.next = now
	}
	ok := sleep(ctx, p.next.Sub(now))
	p.next = p.next.Add(p.every)
	return ok
}

// every turns a rate per second into the pause between two operations.
func every(rate float64) time.Duration {
	return max(time.Duration(float64(time.Second)/rate), time.Millisecond)
}
