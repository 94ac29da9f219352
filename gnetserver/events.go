package gnetserver

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/panjf2000/gnet/v2"
	"golang.org/x/sys/unix"

	"github.com/readinesslab/readiness/internal/proto"
	"github.com/readinesslab/readiness/internal/serve"
)

// handler receives gnet's events. Its callbacks for connections run on the
// connection's event loop; OnTick runs on gnet's ticker goroutine and only
// hands work to the loops.
type handler struct {
	cfg      serve.Config
	maxConns int64
	timed    bool          // an idle or header timeout is set: stamp reads with the clock
	tick     time.Duration // OnTick's period

	// Set in OnBoot, before ready is closed.
	eng     gnet.Engine
	addr    string
	bootErr error

	ready     chan struct{} // closed on the first tick: every listener is listening
	readyOnce sync.Once

	open    atomic.Int64 // connections served now (not counting refused ones)
	closing atomic.Bool  // Shutdown has begun

	mu    sync.Mutex
	loops map[gnet.EventLoop]*loop

	// wakeMu orders timer wake-ups before the engine's stop: once stopped
	// is set no timer touches a poller that may be closed.
	wakeMu  sync.RWMutex
	stopped bool
}

func newHandler(cfg serve.Config) *handler {
	h := &handler{
		cfg:      cfg,
		maxConns: int64(connCap(cfg)),
		ready:    make(chan struct{}),
		loops:    make(map[gnet.EventLoop]*loop),
	}
	h.tick = time.Hour // only the first tick matters: it reports readiness
	for _, d := range []time.Duration{cfg.IdleTimeout, cfg.HeaderTimeout} {
		if d > 0 {
			h.timed = true
			h.tick = min(h.tick, max(d/10, 5*time.Millisecond))
		}
	}
	if h.timed {
		h.tick = min(h.tick, time.Second)
	}
	return h
}

// connCap is the most connections served at once: Config.MaxConns, lowered
// where it would let the process reach its open-file limit.
//
// gnet v2.10.0 treats any accept error other than EAGAIN, EINTR, ECONNRESET
// and ECONNABORTED as fatal: the loop returns it, and the whole engine shuts
// down. EMFILE is such an error, so a gnet server that lets its connections
// use up the fd limit stops serving everyone. The cap keeps accept away from
// the limit: the fds in use stay below capped connections, plus per loop a
// listener, an epoll fd, an eventfd and the one connection accepted beyond
// the cap (answered 503 and closed before the next accept), plus 64 for the
// runtime, stdio and whatever else the process holds, which is the margin
// serve.DefaultMaxConns already leaves. Only fds taken by something else can
// still make accept fail.
func connCap(cfg serve.Config) int {
	return max(min(cfg.MaxConns, serve.DefaultMaxConns()-4*cfg.Loops), 1)
}

// loopOf returns the state of the event loop el, made on its first
// connection.
func (h *handler) loopOf(el gnet.EventLoop) *loop {
	h.mu.Lock()
	defer h.mu.Unlock()
	lp := h.loops[el]
	if lp == nil {
		lp = newLoop(h, el)
		h.loops[el] = lp
	}
	return lp
}

// loopList lists the loops that have had a connection.
func (h *handler) loopList() []*loop {
	h.mu.Lock()
	defer h.mu.Unlock()
	list := make([]*loop, 0, len(h.loops))
	for _, lp := range h.loops {
		list = append(list, lp)
	}
	return list
}

// OnBoot records the engine and the address its first listener is bound to.
func (h *handler) OnBoot(e gnet.Engine) gnet.Action {
	h.eng = e
	fd, err := e.Dup()
	if err != nil {
		h.bootErr = err
		return gnet.Shutdown
	}
	h.addr, _, h.bootErr = serve.SockAddr(fd)
	unix.Close(fd)
	if h.bootErr != nil {
		return gnet.Shutdown
	}
	return gnet.None
}

// OnShutdown has nothing to do: Shutdown has finished the connections.
func (h *handler) OnShutdown(gnet.Engine) {}

// OnOpen admits a connection, or answers 503 and closes it at once when the
// cap is reached or Shutdown has begun.
func (h *handler) OnOpen(gc gnet.Conn) ([]byte, gnet.Action) {
	if h.closing.Load() {
		return proto.ServiceUnavailable, gnet.Close
	}
	if h.open.Add(1) > h.maxConns {
		h.open.Add(-1)
		return proto.ServiceUnavailable, gnet.Close
	}
	lp := h.loopOf(gc.EventLoop())
	c := &conn{gc: gc, lp: lp}
	if h.timed {
		c.last = clock()
		c.moved = c.last
	}
	lp.add(c)
	gc.SetContext(c)
	return nil, gnet.None
}

// OnClose forgets a connection. gnet calls it for refused connections too;
// they carry no context.
func (h *handler) OnClose(gc gnet.Conn, _ error) gnet.Action {
	c, ok := gc.Context().(*conn)
	if !ok {
		return gnet.None
	}
	gc.SetContext(nil)
	if c.side != nil && c.side.timer != nil {
		c.side.timer.Stop()
	}
	c.lp.remove(c)
	h.open.Add(-1)
	return gnet.None
}

// OnTraffic runs when bytes arrived on a connection, or when Conn.Wake asked
// for a look at it (a delay ended, a flush or drain is being waited for).
func (h *handler) OnTraffic(gc gnet.Conn) gnet.Action {
	c, ok := gc.Context().(*conn)
	if !ok {
		_, _ = gc.Discard(-1)
		return gnet.Close
	}
	return c.traffic()
}

// OnTick reports readiness on its first call (gnet starts the ticker once
// every loop's listener is listening), then has each loop sweep its
// connections for timeouts.
func (h *handler) OnTick() (time.Duration, gnet.Action) {
	h.readyOnce.Do(func() { close(h.ready) })
	if h.timed {
		for _, lp := range h.loopList() {
			_ = lp.el.Execute(context.Background(), lp.sweepTask)
		}
	}
	return h.tick, gnet.None
}

// wake asks gc's loop to run OnTraffic for it, unless the engine is
// stopping.
func (h *handler) wake(gc gnet.Conn) {
	h.wakeMu.RLock()
	defer h.wakeMu.RUnlock()
	if !h.stopped {
		_ = gc.Wake(nil)
	}
}

// epoch anchors clock.
var epoch = time.Now()

// clock is monotonic time in nanoseconds.
func clock() int64 { return int64(time.Since(epoch)) }
