package compare

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"strconv"
	"syscall"
	"time"

	"github.com/readinesslab/readiness/internal/child"
	"github.com/readinesslab/readiness/internal/netns"
)

// server is one model running as a child process, with the channel its
// answers to SIGUSR1 arrive on.
type server struct {
	*child.Server
	model string
	mem   chan MemStats // the server's answers to SIGUSR1, from its stderr
}

// startServer runs `binary serve MODEL -loops N [-FLAG=VALUE...] -addr
// 127.0.0.1:0`, model being a variant's spelling (see Variant), pinned
// to cpus and waits for its listening line; with ns, it runs inside that
// network namespace (`ip netns exec`, which execs the server, so the
// process started is the server) and listens on its address. started,
// if set, is called with the process id as soon as the process runs.
func startServer(ctx context.Context, binary, model string, loops int, cpus []int, ns *netns.NS, started func(pid int)) (*server, error) {
	v, err := ParseVariant(model)
	if err != nil {
		return nil, err
	}
	s := &server{model: model, mem: make(chan MemStats, 4)}
	var prefix []string
	var addr string
	if ns != nil {
		prefix, addr = ns.Prefix(), net.JoinHostPort(ns.Addr, "0")
	}
	args := append([]string{v.Model, "-loops", strconv.Itoa(loops)}, v.Serve()...)
	child, err := child.Start(ctx, binary, args, child.Options{
		Prefix: prefix,
		Env:    v.Env(),
		Addr:   addr,
		// The memstats lines are answers, not news for an error message.
		Stderr: func(tail io.Writer) io.Writer { return &lines{memStats: s.mem, rest: tail} },
		// The child starts on a thread pinned to cpus, so it runs nowhere
		// else from its first instruction.
		Launch:  func(start func() error) error { return onCPUs(cpus, start) },
		Started: started,
		// Threads the runtime started before the affinity took hold, if
		// any, are pinned here; the rest inherit it.
		Ready: func(pid int) error { return pinProcess(pid, cpus) },
	})
	if err != nil {
		return nil, err
	}
	s.Server = child
	return s, nil
}

// memStatsTimeout bounds the wait for a server's answer to SIGUSR1; a
// loaded server answers within milliseconds.
const memStatsTimeout = 2 * time.Second

// readMemStats asks the server for its heap counts (SIGUSR1, which
// `readiness serve` answers with one line on stderr) and waits for the
// answer.
func (s *server) readMemStats() (MemStats, error) {
	// An answer left over from an earlier request that timed out would be
	// taken for this one.
	for len(s.mem) > 0 {
		<-s.mem
	}
	if err := s.Signal(syscall.SIGUSR1); err != nil {
		return MemStats{}, err
	}
	select {
	case m := <-s.mem:
		return m, nil
	case <-s.Exited():
		return MemStats{}, fmt.Errorf("the %s server exited while asked for its memory statistics: %w", s.model, s.Stop())
	case <-time.After(memStatsTimeout):
		return MemStats{}, fmt.Errorf("the %s server wrote no memstats line within %v of SIGUSR1", s.model, memStatsTimeout)
	}
}

// lines splits a server's stderr into lines: memstats lines go to
// memStats, the rest to rest.
type lines struct {
	memStats chan<- MemStats
	rest     io.Writer
	partial  []byte
}

func (l *lines) Write(p []byte) (int, error) {
	l.partial = append(l.partial, p...)
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			break
		}
		line := l.partial[:i+1]
		if m, ok := ParseMemStats(string(line)); ok {
			select {
			case l.memStats <- m:
			default:
				// Nobody is waiting for this many answers: drop it.
			}
		} else {
			l.rest.Write(line)
		}
		l.partial = l.partial[i+1:]
	}
	if len(l.partial) > 4096 {
		// A line this long is not a memstats line.
		l.rest.Write(l.partial)
		l.partial = l.partial[:0]
	}
	return len(p), nil
}
