// Package stdserver is the lab's HTTP/1.1 server on Go's net package: one
// goroutine per connection doing blocking reads and writes, while the
// runtime's netpoller does the epoll work out of sight. With Config.Serial it
// is the first server of the story instead: one connection at a time, served
// by the accept loop itself, with no goroutine per connection.
//
// Every connection runs the shared framing of internal/proto, so the bytes on
// the wire are those of the epoll and gnet servers; only the I/O model
// differs.
package stdserver

import (
	"context"
	"errors"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/readinesslab/readiness/internal/proto"
	"github.com/readinesslab/readiness/internal/serve"
)

// Server is a running std server.
type Server struct {
	cfg   serve.Config
	ln    net.Listener
	timed bool // an idle or header timeout is set: connections read the clock and set deadlines

	// closing is set once Shutdown begins; connections check it after each
	// batch of responses and after each read deadline.
	closing atomic.Bool
	// stop is closed when Shutdown begins, to cut an accept back-off short.
	stop     chan struct{}
	stopOnce sync.Once
	// quit is closed when Shutdown stops waiting: delayed writes give up at
	// once.
	quit     chan struct{}
	quitOnce sync.Once
	// wg counts the accept loop and every connection's goroutine.
	wg sync.WaitGroup

	mu    sync.Mutex
	conns map[*conn]struct{} // the connections being served; guarded by mu
}

// Start listens on cfg.Addr and serves until Shutdown. Settings left empty
// are resolved (serve.Config.Resolve) and then validated.
//
// When cfg.Loops is positive, Start sets GOMAXPROCS to it for the whole
// process: the std server's counterpart of the event loops of the other two
// models is the number of threads running goroutines at once.
func Start(cfg serve.Config) (*Server, error) {
	if cfg.Loops > 0 {
		runtime.GOMAXPROCS(cfg.Loops)
	}
	cfg = cfg.Resolve()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, err
	}
	s := &Server{
		cfg:   cfg,
		ln:    ln,
		timed: cfg.IdleTimeout > 0 || cfg.HeaderTimeout > 0,
		stop:  make(chan struct{}),
		quit:  make(chan struct{}),
		conns: make(map[*conn]struct{}),
	}
	s.wg.Add(1)
	go s.acceptLoop()
	return s, nil
}

// Addr is the address the server listens on, with the real port.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Shutdown stops accepting, lets the responses in flight (delayed ones too)
// go out whole, closes every connection and waits for their goroutines.
// When ctx ends first it closes every connection at once, waits for the
// goroutines to notice, and returns ctx's error.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closing.Store(true)
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	s.stopOnce.Do(func() { close(s.stop) })

	err := s.ln.Close()
	if errors.Is(err, net.ErrClosed) {
		err = nil // a second Shutdown: the listener is already closed
	}
	// A deadline in the past wakes every read that is waiting for a
	// request; a connection busy with a batch finishes writing it first and
	// then sees closing.
	past := time.Unix(1, 0)
	for _, c := range conns {
		c.nc.SetReadDeadline(past)
	}

	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return err
	case <-ctx.Done():
	}
	s.quitOnce.Do(func() { close(s.quit) })
	s.mu.Lock()
	for c := range s.conns {
		c.nc.Close()
	}
	s.mu.Unlock()
	<-done
	return ctx.Err()
}

// acceptLoop accepts connections until the listener closes. In serial mode
// it serves each connection itself before accepting the next, so a second
// client waits in the listen backlog.
func (s *Server) acceptLoop() {
	defer s.wg.Done()
	var backoff time.Duration
	for {
		nc, err := s.ln.Accept()
		if err != nil {
			if s.closing.Load() || errors.Is(err, net.ErrClosed) {
				return
			}
			// EMFILE, ENFILE, ENOBUFS: the pending connection stays in the
			// backlog and the listener stays readable, so retrying at once
			// would spin. Wait, longer each time, while the goroutines of
			// the open connections keep serving them.
			backoff = nextBackoff(backoff)
			if !s.pause(backoff) {
				return
			}
			continue
		}
		backoff = 0
		c := s.track(nc.(*net.TCPConn))
		if c == nil {
			continue
		}
		if s.cfg.Serial {
			c.serve()
			continue
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			c.serve()
		}()
	}
}

// nextBackoff doubles the wait after a failed accept, from 5 ms up to 1 s.
func nextBackoff(d time.Duration) time.Duration {
	if d == 0 {
		return 5 * time.Millisecond
	}
	return min(2*d, time.Second)
}

// pause waits d, or less when Shutdown begins; it reports whether to go on.
func (s *Server) pause(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-s.stop:
		return false
	}
}

// track registers a newly accepted connection and returns it, or refuses it
// and returns nil: during shutdown, and beyond cfg.MaxConns.
func (s *Server) track(nc *net.TCPConn) *conn {
	s.mu.Lock()
	if s.closing.Load() {
		s.mu.Unlock()
		nc.Close()
		return nil
	}
	if len(s.conns) >= s.cfg.MaxConns {
		s.mu.Unlock()
		// Over the cap: the 503 goes out at once and the socket closes at
		// once, without the drain, to give back the fd the cap protects.
		// The write cannot block: a new socket's send buffer is empty.
		nc.Write(proto.ServiceUnavailable)
		nc.Close()
		return nil
	}
	c := newConn(s, nc)
	s.conns[c] = struct{}{}
	s.mu.Unlock()
	return c
}

// untrack forgets a connection that is closing.
func (s *Server) untrack(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}
