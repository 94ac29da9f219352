package soak

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/readinesslab/readiness/internal/proto"
	"github.com/readinesslab/readiness/internal/testnet/netcheck"
)

// hostile runs the hostile clients of one server. A hostile client's own
// writes may fail (the server may close a connection whose peer
// misbehaves); what it checks is what the contract promises it: the exact
// error bytes, the 408, the idle close, and that the server is reachable.
type hostile struct {
	addr          string
	tally         *tally
	ops           time.Duration // pause between two operations of a paced kind
	idleTimeout   time.Duration
	headerTimeout time.Duration
}

const getRequest = "GET /hostile HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"

// resets are the ways a client resets (SO_LINGER 0) in the middle of
// something.
var resets = []string{
	getRequest[:len(getRequest)/2], // mid-head
	"POST /upload HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\n0123456789", // mid-body
	strings.Repeat(getRequest, 50) + getRequest[:10],                                    // mid-pipeline
}

// resetLoop connects, writes part of something, and resets.
func (h *hostile) resetLoop(ctx context.Context) {
	p := newPacer(h.ops, 0)
	for i := 0; p.wait(ctx); i++ {
		c, stop, err := dial(ctx, h.addr)
		if err != nil {
			h.dialFailed(ctx, kindReset, err)
			continue
		}
		_, _ = io.WriteString(c, resets[i%len(resets)])
		stop()
		netcheck.Abort(c)
		h.tally.did(kindReset)
	}
}

// unreadLoop pipelines requests and closes without reading the answers:
// the server's writes meet a closed socket.
func (h *hostile) unreadLoop(ctx context.Context) {
	p := newPacer(h.ops, h.ops/3)
	req := strings.Repeat(getRequest, 20)
	for p.wait(ctx) {
		c, stop, err := dial(ctx, h.addr)
		if err != nil {
			h.dialFailed(ctx, kindUnread, err)
			continue
		}
		_, _ = io.WriteString(c, req)
		stop()
		c.Close()
		h.tally.did(kindUnread)
	}
}

// invalid requests and the contract's exact answers. The last one follows
// a good request, whose answer must come first.
var invalids = []struct {
	req  string
	want []byte
}{
	{"NONSENSE\r\n\r\n", proto.BadRequest},
	{"GET / HTTP/1.1\r\nHost 127.0.0.1\r\n\r\n", proto.BadRequest},
	{"POST / HTTP/1.1\r\nContent-Length: 12x\r\n\r\n", proto.BadRequest},
	{"POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabc", proto.BadRequest},
	{"POST / HTTP/1.1\r\nContent-Length: 2000000\r\n\r\n", proto.ContentTooLarge},
	{"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", proto.NotImplemented},
	{"GET / HTTP/2.0\r\n\r\n", proto.VersionNotSupported},
	{"GET / HTTP/1.1\r\nX-Big: " + strings.Repeat("a", proto.MaxHead+100) + "\r\n\r\n", proto.HeaderTooLarge},
	{getRequest + "GET /\r\n\r\n", append(append([]byte(nil), proto.OK...), proto.BadRequest...)},
}

// invalidLoop sends each invalid request in turn and requires the exact
// error response followed by the close.
func (h *hostile) invalidLoop(ctx context.Context) {
	p := newPacer(h.ops, 2*h.ops/3)
	for i := 0; p.wait(ctx); i++ {
		c, stop, err := dial(ctx, h.addr)
		if err != nil {
			h.dialFailed(ctx, kindInvalid, err)
			continue
		}
		in := invalids[i%len(invalids)]
		err = func() error {
			if err := c.SetDeadline(time.Now().Add(ioTimeout)); err != nil {
				return err
			}
			// A write may fail once the server has answered and stopped
			// reading; the answer is still there to read.
			_, _ = io.WriteString(c, in.req)
			if err := netcheck.Expect(c, in.want); err != nil {
				return err
			}
			return netcheck.ExpectClosed(c, ioTimeout)
		}()
		stop()
		c.Close()
		if err != nil && (ctx.Err() == nil || errors.Is(err, netcheck.ErrMismatch)) {
			h.tally.hostileFailed(kindInvalid, fmt.Errorf("%.40q: %w", in.req, err))
		}
		h.tally.did(kindInvalid)
	}
}

// slowHead is longer than any header timeout at the pace the slow client
// sends it (a byte every headerTimeout/8), so it never completes.
var slowHead = "GET /slow HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + strings.Repeat("s", 200) + "\r\n\r\n"

// slowLoop sends a head a byte at a time and requires 408 Request Timeout,
// not before half the header timeout, then the close.
func (h *hostile) slowLoop(ctx context.Context) {
	if h.headerTimeout == 0 {
		return
	}
	step := h.headerTimeout / 8
	for ctx.Err() == nil {
		c, stop, err := dial(ctx, h.addr)
		if err != nil {
			h.dialFailed(ctx, kindSlow, err)
			sleep(ctx, time.Second)
			continue
		}
		done := make(chan struct{})
		wrote := make(chan struct{})
		go func() {
			defer close(wrote)
			for i := 0; i < len(slowHead); i++ {
				if _, err := c.Write([]byte{slowHead[i]}); err != nil {
					return
				}
				select {
				case <-done:
					return
				case <-time.After(step):
				}
			}
		}()
		t0 := time.Now()
		err = func() error {
			if err := c.SetReadDeadline(t0.Add(h.headerTimeout + ioTimeout)); err != nil {
				return err
			}
			if err := netcheck.Expect(c, proto.RequestTimeout); err != nil {
				return err
			}
			if took := time.Since(t0); took < h.headerTimeout/2 {
				return fmt.Errorf("408 after %v, header timeout %v", took.Round(time.Millisecond), h.headerTimeout)
			}
			return netcheck.ExpectClosed(c, ioTimeout)
		}()
		close(done)
		stop()
		c.Close()
		<-wrote
		if ctx.Err() != nil && !errors.Is(err, netcheck.ErrMismatch) {
			return
		}
		if err != nil {
			h.tally.hostileFailed(kindSlow, err)
		}
		h.tally.did(kindSlow)
	}
}

// idleLoop holds a connection without sending a byte until the server
// closes it for idleness (not before half the idle timeout, within
// ioTimeout after it), then connects again. Without an idle timeout it
// closes the connection itself after IdleHold.
func (h *hostile) idleLoop(ctx context.Context, phase time.Duration) {
	if !sleep(ctx, phase) {
		return
	}
	for ctx.Err() == nil {
		c, stop, err := dial(ctx, h.addr)
		if err != nil {
			h.dialFailed(ctx, kindIdle, err)
			sleep(ctx, time.Second)
			continue
		}
		t0 := time.Now()
		if h.idleTimeout == 0 {
			err = netcheck.ExpectSilence(c, IdleHold)
		} else {
			err = netcheck.ExpectEOF(c, h.idleTimeout+ioTimeout)
			if took := time.Since(t0); err == nil && took < h.idleTimeout/2 {
				err = fmt.Errorf("closed after %v, idle timeout %v", took.Round(time.Millisecond), h.idleTimeout)
			}
		}
		stop()
		c.Close()
		if ctx.Err() != nil && !errors.Is(err, netcheck.ErrMismatch) {
			return
		}
		if err != nil {
			h.tally.hostileFailed(kindIdle, err)
		}
		h.tally.did(kindIdle)
	}
}

// dialFailed counts a failed connect, unless the run is over.
func (h *hostile) dialFailed(ctx context.Context, k kind, err error) {
	if ctx.Err() == nil {
		h.tally.hostileFailed(k, fmt.Errorf("dial: %w", err))
	}
}
