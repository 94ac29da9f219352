package soak

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
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

// reset closes c with SO_LINGER 0: the kernel sends a reset instead of a
// FIN and discards whatever is queued either way.
func reset(c *net.TCPConn) {
	_ = c.SetLinger(0)
	_ = c.Close()
}

// expect reads exactly len(want) bytes from c and compares them as they
// come; the error says where the first difference is.
func expect(c net.Conn, want []byte) error {
	var buf [4096]byte
	for off := 0; off < len(want); {
		n, err := c.Read(buf[:min(len(buf), len(want)-off)])
		if n > 0 {
			if i := firstDiff(buf[:n], want[off:off+n]); i >= 0 {
				at := off + i
				return fmt.Errorf("%w at byte %d of %d: got %q, want %q", errMismatch, at, len(want),
					excerpt(buf[:n], i), excerpt(want[off:off+n], i))
			}
			off += n
		}
		if err != nil && off < len(want) {
			return fmt.Errorf("read after %d of %d bytes: %w", off, len(want), err)
		}
	}
	return nil
}

// errMismatch marks bytes that differ from what the contract promises: a
// failure whatever else happened, even while the run is ending.
var errMismatch = errors.New("wrong byte")

func firstDiff(a, b []byte) int {
	for i := range a {
		if a[i] != b[i] {
			return i
		}
	}
	return -1
}

// excerpt is a few bytes of b around i, for a message.
func excerpt(b []byte, i int) []byte {
	return b[max(i-8, 0):min(i+16, len(b))]
}

// readWithin makes one read from c that waits at most d, for the checks
// that expect silence or an end: what arrived (a little at most) and the
// read's error.
func readWithin(c net.Conn, d time.Duration) ([]byte, error) {
	if err := c.SetReadDeadline(time.Now().Add(d)); err != nil {
		return nil, err
	}
	var buf [256]byte
	n, err := c.Read(buf[:])
	return buf[:n], err
}

// expectEnd requires the server to end c within d with nothing more: end
// of file, or a reset, which the contract allows once its last bytes have
// been read.
func expectEnd(c net.Conn, d time.Duration) error {
	got, err := readWithin(c, d)
	switch {
	case len(got) > 0:
		return fmt.Errorf("%w: %d bytes where the connection should end: %q", errMismatch, len(got), got[:min(len(got), 64)])
	case ended(err):
		return nil
	default:
		return fmt.Errorf("not closed within %v: %w", d, err)
	}
}

// expectEOF is expectEnd without the reset: the server closed or
// half-closed in order.
func expectEOF(c net.Conn, d time.Duration) error {
	got, err := readWithin(c, d)
	switch {
	case len(got) > 0:
		return fmt.Errorf("%w: %d bytes where end of file should be: %q", errMismatch, len(got), got[:min(len(got), 64)])
	case errors.Is(err, io.EOF):
		return nil
	default:
		return fmt.Errorf("want end of file within %v: %w", d, err)
	}
}

// ended reports whether err from a read means the peer closed or reset.
func ended(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET)
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
