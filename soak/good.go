package soak

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"strconv"
	"time"

	"github.com/readinesslab/readiness/internal/proto"
	"github.com/readinesslab/readiness/internal/testnet/netcheck"
)

// closeEvery is how often (in batches) a good connection ends its batch
// with a `Connection: close` request, expects the closing 200 and end of
// file, and reconnects: well-behaved clients come and go too.
const closeEvery = 64

// batch is one pipelined write of a good client and the bytes it must get
// back.
type batch struct {
	req    []byte
	want   []byte
	closes bool // the last request asks the server to close
}

// newBatch draws n requests from the contract's well-behaved kinds: GET,
// HEAD, POST with a body, and HTTP/1.0 with keep-alive. With closes, the
// last one is a GET with `Connection: close`.
func newBatch(rng *rand.Rand, n int, closes bool) batch {
	var b batch
	var req, want bytes.Buffer
	for i := 0; i < n; i++ {
		if closes && i == n-1 {
			req.WriteString("GET /soak/last HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
			want.Write(proto.OKClose)
			b.closes = true
			break
		}
		switch rng.IntN(4) {
		case 0:
			req.WriteString("GET /soak/" + strconv.Itoa(rng.IntN(1000)) + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
			want.Write(proto.OK)
		case 1:
			req.WriteString("HEAD /soak HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
			want.Write(proto.OK[:len(proto.OK)-len(proto.Body)])
		case 2:
			body := bytes.Repeat([]byte{'b'}, rng.IntN(200))
			req.WriteString("POST /soak HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n")
			req.Write(body)
			want.Write(proto.OK)
		default:
			req.WriteString("GET /soak HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
			want.Write(proto.OKKeepAlive)
		}
	}
	b.req, b.want = req.Bytes(), want.Bytes()
	return b
}

// goodClient is one well-behaved keep-alive connection (reopened when the
// server closes it on request or it fails), sending a batch every
// cfg.batchEvery() and checking every byte of the answers.
type goodClient struct {
	addr     string
	tally    *tally
	pipeline int
	every    time.Duration
	phase    time.Duration
	rng      *rand.Rand
}

func (g *goodClient) run(ctx context.Context) {
	var (
		c    *net.TCPConn
		stop func() bool
	)
	drop := func() {
		if c != nil {
			stop()
			c.Close()
			c = nil
		}
	}
	defer drop()
	p := newPacer(g.every, g.phase)
	for n := 1; p.wait(ctx); n++ {
		if c == nil {
			var err error
			if c, stop, err = dial(ctx, g.addr); err != nil {
				if ctx.Err() == nil {
					g.tally.goodFailed(fmt.Errorf("dial: %w", err))
				}
				continue
			}
		}
		b := newBatch(g.rng, g.pipeline, n%closeEvery == 0)
		if err := g.exchange(c, b, n); err != nil {
			// Once the run is over the connection is closed under the
			// client: only a wrong byte counts then.
			if ctx.Err() == nil || errors.Is(err, netcheck.ErrMismatch) {
				g.tally.goodFailed(err)
			}
			drop()
			continue
		}
		g.tally.goodRequests.Add(int64(g.pipeline))
		if b.closes {
			drop()
		}
	}
}

// exchange writes b (in two writes split at a random byte every other
// time, so heads and bodies arrive in pieces) and reads its answers.
func (g *goodClient) exchange(c *net.TCPConn, b batch, n int) error {
	if err := c.SetDeadline(time.Now().Add(ioTimeout)); err != nil {
		return err
	}
	parts := [][]byte{b.req}
	if n%2 == 0 {
		cut := 1 + g.rng.IntN(len(b.req)-1)
		parts = [][]byte{b.req[:cut], b.req[cut:]}
	}
	for _, p := range parts {
		if _, err := c.Write(p); err != nil {
			return fmt.Errorf("write: %w", err)
		}
	}
	if err := netcheck.Expect(c, b.want); err != nil {
		return fmt.Errorf("batch of %d: %w", g.pipeline, err)
	}
	if b.closes {
		// A closing 200 ends like an error: half-close, so the client
		// reads end of file, not a reset.
		if err := netcheck.ExpectEOF(c, ioTimeout); err != nil {
			return fmt.Errorf("after Connection: close: %w", err)
		}
	}
	return nil
}

// roundTrip is one well-behaved GET on a new connection, for the probes
// after a churn burst.
func roundTrip(ctx context.Context, addr string) error {
	c, stop, err := dial(ctx, addr)
	if err != nil {
		return fmt.Errorf("dial: %w", err)
	}
	defer stop()
	defer c.Close()
	if err := c.SetDeadline(time.Now().Add(ioTimeout)); err != nil {
		return err
	}
	if _, err := c.Write([]byte("GET /soak/probe HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	return netcheck.Expect(c, proto.OK)
}
