// Package gnetserver is the lab's HTTP/1.1 server on gnet v2: gnet owns the
// event loops, the epoll calls and the buffers, and this package only reacts
// to its events. OnTraffic hands everything buffered on a connection to the
// shared framing of internal/proto and writes the batch of responses once, so
// the bytes on the wire are those of the epoll and std servers.
//
// Each event loop has its own SO_REUSEPORT listener and accepts for itself,
// as the epoll server does by default. What gnet does not offer is built
// from what it does: timeouts from its ticker and a sweep run on each loop,
// the drain after an error from shutdown(2) on the connection's fd, timer
// delays and flush waits from Conn.Wake.
package gnetserver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/panjf2000/gnet/v2"
	"github.com/panjf2000/gnet/v2/pkg/socket"
	"golang.org/x/sys/unix"

	"github.com/readinesslab/readiness/internal/serve"
)

// shutdownPoll is how often Shutdown checks whether the connections have
// finished, and asks the loops to close those with nothing in flight.
const shutdownPoll = 10 * time.Millisecond

// Server is a running gnet server.
type Server struct {
	h    *handler
	addr string
	eng  gnet.Engine

	done     chan struct{} // closed when gnet.Run returns
	runErr   error         // gnet.Run's result, read after done
	stopOnce sync.Once
}

var _ serve.Server = (*Server)(nil)

// Start starts a server with cfg (resolved here) and returns once it accepts
// connections.
func Start(cfg serve.Config) (*Server, error) {
	cfg = cfg.Resolve()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	addr := cfg.Addr
	hold := -1
	if _, port, err := net.SplitHostPort(addr); err != nil {
		return nil, err
	} else if port == "0" {
		// Every loop binds its own listener to the address it is given, so
		// with port 0 each would get a different port. Reserve one first and
		// give it to all of them.
		if hold, addr, err = reservePort(addr); err != nil {
			return nil, err
		}
	}
	defer func() {
		if hold >= 0 {
			unix.Close(hold)
		}
	}()

	h := newHandler(cfg)
	s := &Server{h: h, done: make(chan struct{})}
	go func() {
		s.runErr = gnet.Run(h, "tcp://"+addr,
			gnet.WithNumEventLoop(cfg.Loops),
			gnet.WithMulticore(cfg.Loops > 1),
			gnet.WithReusePort(true),
			gnet.WithReuseAddr(true),
			gnet.WithTCPNoDelay(gnet.TCPNoDelay), // set on the listeners, inherited by accepted sockets
			gnet.WithTicker(true),
			gnet.WithLogger(quietLogger{}),
			gnet.WithLockOSThread(lockLoops()),
		)
		close(s.done)
	}()
	select {
	case <-h.ready:
	case <-s.done:
		err := s.runErr
		if err == nil {
			err = h.bootErr
		}
		if err == nil {
			err = errors.New("engine stopped while starting")
		}
		return nil, fmt.Errorf("gnet: %w", err)
	}
	s.eng, s.addr = h.eng, h.addr
	return s, nil
}

// Addr is the address the server listens on, with the real port.
func (s *Server) Addr() string { return s.addr }

// Shutdown refuses new connections (503), closes those with nothing in
// flight, lets the others finish their responses (delayed ones too) and
// close, then stops the engine. When ctx ends first it stops the engine at
// once, closing what is left, and returns ctx's error.
func (s *Server) Shutdown(ctx context.Context) error {
	h := s.h
	h.closing.Store(true)
	poll := time.NewTicker(shutdownPoll)
	defer poll.Stop()
	for h.open.Load() > 0 {
		// Repeated, because a loop may take its first connection after an
		// earlier round had listed the loops.
		for _, lp := range h.loopList() {
			_ = lp.el.Execute(context.Background(), lp.quiesceTask)
		}
		select {
		case <-ctx.Done():
			s.stop()
			return ctx.Err()
		case <-s.done:
			return s.runErr
		case <-poll.C:
		}
	}
	s.stop()
	select {
	case <-s.done:
		return s.runErr
	case <-ctx.Done():
		return ctx.Err()
	}
}

// stop stops the engine and keeps connection timers from waking it again.
func (s *Server) stop() {
	s.h.wakeMu.Lock()
	s.h.stopped = true
	s.h.wakeMu.Unlock()
	s.stopOnce.Do(func() {
		// Engine.Stop starts the stop, then polls every 500 ms until the
		// engine is down or its ctx ends. Given an ended ctx it only starts
		// the stop; s.done reports the end without that polling delay.
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_ = s.eng.Stop(ctx)
	})
}

// reservePort binds (without listening) a socket with SO_REUSEPORT to addr's
// host and a free port, and returns it with HOST:PORT for gnet. The loops'
// listeners join the port while it is held, so no other program can take it
// in between; a socket that never listens receives no connections.
func reservePort(addr string) (fd int, bound string, err error) {
	sa, family, _, v6only, err := socket.GetTCPSockAddr("tcp", addr)
	if err != nil {
		return -1, "", err
	}
	fd, err = unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, unix.IPPROTO_TCP)
	if err != nil {
		return -1, "", os.NewSyscallError("socket", err)
	}
	fail := func(call string, err error) (int, string, error) {
		unix.Close(fd)
		return -1, "", os.NewSyscallError(call, err)
	}
	if v6only {
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, 1); err != nil {
			return fail("setsockopt", err)
		}
	}
	for _, opt := range []int{unix.SO_REUSEADDR, unix.SO_REUSEPORT} {
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, opt, 1); err != nil {
			return fail("setsockopt", err)
		}
	}
	if err := unix.Bind(fd, sa); err != nil {
		return fail("bind", err)
	}
	_, port, err := serve.SockAddr(fd)
	if err != nil {
		unix.Close(fd)
		return -1, "", err
	}
	host, _, _ := net.SplitHostPort(addr)
	return fd, net.JoinHostPort(host, strconv.Itoa(port)), nil
}

// quietLogger keeps gnet's log off stdout, whose first line belongs to the
// command: errors go to stderr, the rest is dropped.
type quietLogger struct{}

func (quietLogger) Debugf(string, ...any) {}
func (quietLogger) Infof(string, ...any)  {}
func (quietLogger) Warnf(string, ...any)  {}
func (quietLogger) Errorf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "gnet: "+format+"\n", args...)
}
func (quietLogger) Fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "gnet: "+format+"\n", args...)
}

// LockEnv names the environment variable that, set to 1, locks each of
// gnet's event loops to its OS thread (gnet.WithLockOSThread). gnet leaves
// them unlocked by default, and so does this server; the variable exists so
// that measurements can set gnet beside an epoll loop that locks its own
// (docs/wakeups.md).
const LockEnv = "READINESS_GNET_LOCK"

func lockLoops() bool { return os.Getenv(LockEnv) == "1" }
