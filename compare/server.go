package compare

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os/exec"
	"regexp"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// Bounds on a server's start and stop. The contract gives a server 5 s to
// exit after SIGTERM.
const (
	startTimeout = 10 * time.Second
	stopTimeout  = 6 * time.Second
)

var listening = regexp.MustCompile(`listening on (\S+)`)

// server is one model running as a child process.
type server struct {
	model  string
	cmd    *exec.Cmd
	addr   string
	exited chan struct{} // closed once the process has been reaped
	err    error         // Wait's result, valid after exited is closed
	stderr *tail
	mem    chan MemStats // the server's answers to SIGUSR1, from its stderr
}

// startServer runs `binary serve MODEL -addr 127.0.0.1:0 -loops N` pinned
// to cpus and waits for its listening line. started, if set, is called
// with the process id as soon as the process runs.
func startServer(ctx context.Context, binary, model string, loops int, cpus []int, started func(pid int)) (*server, error) {
	s := &server{model: model, exited: make(chan struct{}), stderr: &tail{max: 2048}, mem: make(chan MemStats, 4)}
	s.cmd = exec.Command(binary, "serve", model, "-addr", "127.0.0.1:0", "-loops", strconv.Itoa(loops))
	s.cmd.Stderr = &lines{memStats: s.mem, rest: s.stderr}
	stdout, err := s.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := onCPUs(cpus, s.cmd.Start); err != nil {
		return nil, fmt.Errorf("start %s server: %w", model, err)
	}
	if started != nil {
		started(s.pid())
	}
	go func() {
		s.err = s.cmd.Wait()
		close(s.exited)
	}()

	lines := make(chan string, 1)
	go func() {
		r := bufio.NewReader(stdout)
		line, err := r.ReadString('\n')
		if err == nil {
			lines <- line
		}
		close(lines)
		// Keep reading so a chatty server never blocks on a full pipe.
		io.Copy(io.Discard, r)
	}()
	timer := time.NewTimer(startTimeout)
	defer timer.Stop()
	select {
	case line, ok := <-lines:
		m := listening.FindStringSubmatch(line)
		if ok && m != nil {
			s.addr = m[1]
			break
		}
		s.kill()
		return nil, fmt.Errorf("%s server: no listening line on stdout (got %q); stderr: %s", model, line, s.stderr)
	case <-timer.C:
		s.kill()
		return nil, fmt.Errorf("%s server: no listening line within %v; stderr: %s", model, startTimeout, s.stderr)
	case <-ctx.Done():
		s.kill()
		return nil, ctx.Err()
	}

	// Threads the runtime started before the affinity took hold, if any,
	// are pinned here; the rest inherit it.
	if err := pinProcess(s.pid(), cpus); err != nil {
		s.kill()
		return nil, err
	}
	return s, nil
}

func (s *server) pid() int { return s.cmd.Process.Pid }

// running reports whether the process has not exited.
func (s *server) running() bool {
	select {
	case <-s.exited:
		return false
	default:
		return true
	}
}

// stop asks the server to shut down (SIGTERM) and waits for it, killing it
// after stopTimeout. The error says how it ended when that was not a clean
// exit 0.
func (s *server) stop() error {
	if !s.running() {
		return s.exitError("had already exited")
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
		return s.exitError("exited after SIGTERM")
	case <-time.After(stopTimeout):
		s.kill()
		return fmt.Errorf("%s server did not exit within %v of SIGTERM and was killed", s.model, stopTimeout)
	}
}

func (s *server) exitError(how string) error {
	if s.err == nil {
		return nil
	}
	return fmt.Errorf("%s server %s: %v; stderr: %s", s.model, how, s.err, s.stderr)
}

// kill ends the server at once and reaps it.
func (s *server) kill() {
	s.cmd.Process.Kill()
	select {
	case <-s.exited:
	case <-time.After(stopTimeout):
	}
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
	if err := s.cmd.Process.Signal(syscall.SIGUSR1); err != nil {
		return MemStats{}, fmt.Errorf("signal the %s server: %w", s.model, err)
	}
	select {
	case m := <-s.mem:
		return m, nil
	case <-s.exited:
		return MemStats{}, s.exitError("exited while asked for its memory statistics")
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

// tail keeps the last max bytes written to it.
type tail struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > t.max {
		t.buf = t.buf[len(t.buf)-t.max:]
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := string(bytes.TrimSpace(t.buf))
	if s == "" {
		return "(empty)"
	}
	return s
}
