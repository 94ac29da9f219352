package soak

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/readinesslab/readiness/internal/testnet/netcheck"
)

// The never-reading client: it pipelines noReadChunk requests per write
// and never reads, until a write blocks for noReadStall (the server stopped
// reading: its unsent bound is reached) or the server drops it. It writes
// at most noReadMax bytes: a server that takes all of that without pushing
// back fails. It holds the stalled connection for noReadHold, resets it and
// starts again after noReadPause.
const (
	noReadChunk = 512
	noReadStall = time.Second
	noReadMax   = 64 << 20
	noReadHold  = time.Second
	noReadPause = 3 * time.Second
)

func (h *hostile) noReadLoop(ctx context.Context) {
	chunk := []byte(strings.Repeat(getRequest, noReadChunk))
	// The first round comes early, so that the memory a server keeps for
	// such a client is part of its working size before the RSS is judged.
	for pause := noReadPause / 10; sleep(ctx, pause); pause = noReadPause {
		c, stop, err := dial(ctx, h.addr)
		if err != nil {
			h.dialFailed(ctx, kindNoRead, err)
			continue
		}
		// A small receive buffer keeps the answers the kernel takes on the
		// client's behalf few, so the server meets its own bound sooner.
		_ = c.SetReadBuffer(4096)
		sent, err := 0, error(nil)
		for sent < noReadMax {
			if err = c.SetWriteDeadline(time.Now().Add(noReadStall)); err != nil {
				break
			}
			var n int
			n, err = c.Write(chunk)
			sent += n
			if err != nil {
				break
			}
		}
		switch {
		case ctx.Err() != nil:
		case errors.Is(err, os.ErrDeadlineExceeded):
			sleep(ctx, noReadHold)
		case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
			// A server that cannot stop reading one connection (gnet) bounds
			// it by dropping it instead.
		case err == nil:
			h.tally.hostileFailed(kindNoRead, fmt.Errorf("wrote %d MiB of requests without the server pushing back", sent>>20))
		default:
			h.tally.hostileFailed(kindNoRead, fmt.Errorf("after %d bytes: %w", sent, err))
		}
		stop()
		netcheck.Abort(c)
		if ctx.Err() != nil {
			return
		}
		h.tally.did(kindNoRead)
	}
}

// leaves are the ways a churning connection goes away.
var leaves = []func(c *net.TCPConn){
	func(c *net.TCPConn) { c.Close() },
	func(c *net.TCPConn) {
		_, _ = io.WriteString(c, getRequest[:len(getRequest)/2])
		netcheck.Abort(c)
	},
	func(c *net.TCPConn) {
		_, _ = io.WriteString(c, strings.Repeat(getRequest, 20)+getRequest[:7])
		netcheck.Abort(c)
	},
	func(c *net.TCPConn) {
		_, _ = io.WriteString(c, strings.Repeat(getRequest, 20))
		c.Close()
	},
	func(c *net.TCPConn) {
		// Half-close mid-head, then wait briefly for the server to close.
		_, _ = io.WriteString(c, getRequest[:9])
		_ = c.CloseWrite()
		_ = c.SetReadDeadline(time.Now().Add(time.Second))
		_, _ = io.Copy(io.Discard, c)
		c.Close()
	},
}

// churnLoop opens n connections, holds them all open, then has them all
// leave at the same moment, each in one of the leaves; then one well-behaved
// client on a new connection must be served, and counts as a good request.
func (h *hostile) churnLoop(ctx context.Context, every time.Duration, n int) {
	p := newPacer(every, every/2)
	for round := 0; p.wait(ctx); round++ {
		conns := make([]*net.TCPConn, 0, n)
		var stops []func() bool
		for len(conns) < n {
			c, stop, err := dial(ctx, h.addr)
			if err != nil {
				h.dialFailed(ctx, kindChurn, err)
				break
			}
			conns, stops = append(conns, c), append(stops, stop)
		}
		var wg sync.WaitGroup
		for i, c := range conns {
			leave := leaves[(round+i)%len(leaves)]
			wg.Go(func() { leave(c) })
		}
		wg.Wait()
		for _, stop := range stops {
			stop()
		}
		if ctx.Err() != nil {
			return
		}
		h.tally.hostile[kindChurn].Add(int64(len(conns)))
		if err := roundTrip(ctx, h.addr); err != nil {
			if ctx.Err() == nil || errors.Is(err, netcheck.ErrMismatch) {
				h.tally.goodFailed(fmt.Errorf("after a churn burst: %w", err))
			}
			continue
		}
		h.tally.goodRequests.Add(1)
	}
}
