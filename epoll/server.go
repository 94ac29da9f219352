package epoll

import (
	"context"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/readinesslab/readiness/internal/serve"
)

// Server states, as the loops see them.
const (
	stateRunning  int32 = iota
	stateStopping       // finish what is owed, close, exit
	stateAborting       // close everything now, exit
)

// Server is a running epoll server.
type Server struct {
	addr     string
	loops    []*loop
	maxConns int64

	conns      atomic.Int64 // open connections over all loops, for MaxConns
	state      atomic.Int32
	listenRefs atomic.Int32 // loops still using the shared listener (exclusive, shared)
	running    atomic.Int32 // loops not yet exited

	abort     chan struct{} // closed when Shutdown's context ends first
	done      chan struct{} // closed when the last loop has exited
	stopOnce  sync.Once
	abortOnce sync.Once

	// wakeMu orders the wakes of concurrent Shutdown calls before the
	// close of the eventfds they write to; wakeClosed is set, under it,
	// once the eventfds are closed, and no wake happens after that.
	wakeMu     sync.Mutex
	wakeClosed bool
}

var _ serve.Server = (*Server)(nil)

// Start listens on cfg.Addr and starts cfg.Loops event loops.
func Start(cfg serve.Config) (*Server, error) {
	cfg = cfg.Resolve()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	reusePort := cfg.Accept == serve.AcceptReusePort
	lfds, addr, err := listenAll(cfg.Addr, cfg.Loops, reusePort)
	if err != nil {
		return nil, err
	}
	s := &Server{
		addr:     addr,
		maxConns: int64(cfg.MaxConns),
		abort:    make(chan struct{}),
		done:     make(chan struct{}),
	}
	s.listenRefs.Store(int32(cfg.Loops))
	for i := 0; i < cfg.Loops; i++ {
		lfd := lfds[0]
		if reusePort {
			lfd = lfds[i]
		}
		l, err := newLoop(s, cfg, lfd)
		if err != nil {
			for _, l := range s.loops {
				l.p.close()
			}
			closeInts(lfds)
			return nil, err
		}
		s.loops = append(s.loops, l)
	}
	s.running.Store(int32(len(s.loops)))
	for _, l := range s.loops {
		go l.run()
	}
	return s, nil
}

// Addr is the address the server listens on, with the real port.
func (s *Server) Addr() string { return s.addr }

// Shutdown stops accepting, lets every loop deliver the responses it owes
// (delayed ones too), closes every connection and waits for the loops to
// exit. If ctx ends first, the loops close everything at once and Shutdown
// returns ctx's error once they have exited.
func (s *Server) Shutdown(ctx context.Context) error {
	s.stopOnce.Do(func() {
		s.state.CompareAndSwap(stateRunning, stateStopping)
		s.wakeAll()
	})
	var err error
	select {
	case <-s.done:
	case <-ctx.Done():
		err = ctx.Err()
		s.abortOnce.Do(func() {
			s.state.Store(stateAborting)
			close(s.abort)
			s.wakeAll()
		})
		<-s.done
	}
	// Every loop has exited, so no loop reads the eventfds any more; a
	// concurrent Shutdown may still be waking them, and wakeMu makes the
	// close wait for it.
	s.wakeMu.Lock()
	defer s.wakeMu.Unlock()
	if !s.wakeClosed {
		s.wakeClosed = true
		for _, l := range s.loops {
			l.p.close()
		}
	}
	return err
}

// wakeAll ends every loop's wait, unless the eventfds are closed already
// (the loops have all exited then, and need no wake).
func (s *Server) wakeAll() {
	s.wakeMu.Lock()
	defer s.wakeMu.Unlock()
	if s.wakeClosed {
		return
	}
	for _, l := range s.loops {
		// A failed wake leaves that loop blocked until its next event or
		// timer; there is no better channel to reach it.
		l.p.wake()
	}
}

// loopDone is called by each loop as it exits.
func (s *Server) loopDone() {
	if s.running.Add(-1) == 0 {
		close(s.done)
	}
}

func closeInts(fds []int) {
	for _, fd := range fds {
		unix.Close(fd)
	}
}
