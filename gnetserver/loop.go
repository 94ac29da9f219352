package gnetserver

import (
	"context"

	"github.com/panjf2000/gnet/v2"

	"github.com/readinesslab/readiness/internal/proto"
)

// loop is this package's state for one gnet event loop. Only that loop's
// goroutine touches it, in its callbacks and in the tasks run through
// EventLoop.Execute.
type loop struct {
	h     *handler
	el    gnet.EventLoop
	conns []*conn // every open connection of the loop, for the sweeps
	out   []byte  // the responses of one batch, reused from read to read

	sweepTask   gnet.RunnableFunc
	quiesceTask gnet.RunnableFunc
}

func newLoop(h *handler, el gnet.EventLoop) *loop {
	lp := &loop{h: h, el: el}
	lp.sweepTask = func(context.Context) error { lp.sweep(); return nil }
	lp.quiesceTask = func(context.Context) error { lp.quiesce(); return nil }
	return lp
}

func (lp *loop) add(c *conn) {
	c.idx = int32(len(lp.conns))
	lp.conns = append(lp.conns, c)
}

// remove takes c out of conns by moving the last connection into its place.
func (lp *loop) remove(c *conn) {
	i, last := c.idx, len(lp.conns)-1
	lp.conns[i] = lp.conns[last]
	lp.conns[i].idx = i
	lp.conns[last] = nil
	lp.conns = lp.conns[:last]
}

// apply carries out an action decided outside a gnet callback.
func (lp *loop) apply(c *conn, a gnet.Action) {
	if a == gnet.Close {
		_ = lp.el.Close(c.gc)
	}
}

// each calls f for every connection of the loop, f being free to close the
// one it is given. The walk goes backwards because a close moves the last
// connection into the closed one's place, which has been looked at already.
func (lp *loop) each(f func(c *conn)) {
	for i := len(lp.conns) - 1; i >= 0; i-- {
		if i >= len(lp.conns) {
			continue // a close removed more than the connection at i
		}
		f(lp.conns[i])
	}
}

// sweep applies the idle and header timeouts to the loop's connections.
// One waiting for a delay or a drain has its own timer. One with responses
// waiting in gnet's buffer is closed when they have not moved for the idle
// timeout: its client has stopped reading (nginx's send_timeout), whether
// or not it still sends. The header timer does not run while responses
// wait: a client reading its backed-up answers may complete its next head
// only once it has them, as it would with a server that stops reading.
func (lp *loop) sweep() {
	now := clock()
	idle, header := int64(lp.h.cfg.IdleTimeout), int64(lp.h.cfg.HeaderTimeout)
	lp.each(func(c *conn) {
		switch c.phase {
		case serving, backlog, ending:
		default:
			return
		}
		if unsent := c.gc.OutboundBuffered(); unsent > 0 {
			if idle > 0 && lp.stalled(c, unsent, now, idle) {
				lp.apply(c, gnet.Close)
				return
			}
			c.headStart = now // the timer restarts once nothing is unsent
			return
		}
		if c.phase != serving {
			return
		}
		switch {
		case c.head && header > 0:
			if now-c.headStart >= header {
				// A slow head: 408 in the error form, then the error close.
				c.head = false
				_, _ = c.gc.Discard(-1)
				lp.apply(c, c.send(proto.RequestTimeout, proto.Fail))
			}
		case idle > 0:
			if now-c.last >= idle {
				lp.apply(c, gnet.Close)
			}
		}
	})
}

// stalled reports whether c's unsent responses have not moved for idle.
// Bytes leaving gnet's buffer count as activity for the idle timeout too.
func (lp *loop) stalled(c *conn, unsent int, now, idle int64) bool {
	if sent := c.queued - int64(unsent); sent != c.sent {
		c.sent, c.moved = sent, now
		c.last = now
		return false
	}
	return now-c.moved >= idle
}

// quiesce runs during Shutdown: connections with nothing in flight close
// now, those with responses still unsent close once these are out, and
// those waiting for a delay, a flush or a drain finish it first.
func (lp *loop) quiesce() {
	lp.each(func(c *conn) {
		if c.phase == serving || c.phase == backlog {
			lp.apply(c, c.finish(false))
		}
	})
}
