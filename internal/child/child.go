// Package child starts a readiness server as a child process (`readiness serve
// MODEL ...`), waits for its listening line and stops it: the one starter used by
// compare, soak, trace, journey and the experiments.
package child

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Bounds on a child server's start and stop, the same for every caller.
const (
	// StartTimeout bounds the wait for the listening line. A server is
	// listening within milliseconds, under strace within a second.
	StartTimeout = 10 * time.Second
	// StopGrace is how long a server may take to exit after SIGTERM
	// before it is killed: the contract's 5 s and a second of slack.
	StopGrace = 6 * time.Second
)

// stderrKept is how much of a child's stderr its errors quote: the end,
// where a failing server says why.
const stderrKept = 4096

// Options says how Start runs the child. The zero value runs
// `exe serve ARGS... -addr 127.0.0.1:0` directly.
type Options struct {
	// Addr is the address the server listens on; empty: 127.0.0.1:0. A
	// server run inside a network namespace listens on that namespace's
	// address.
	Addr string
	// Prefix is a command put in front of the readiness binary, such as
	// strace and its flags. The server's signals go to the server, not to
	// the prefix: see Find.
	Prefix []string
	// Env holds KEY=VALUE entries added to this process's environment for
	// the child alone.
	Env []string
	// Find, for a Prefix that runs the server as its child (strace does),
	// returns the server's process id given the prefix's. It is called
	// once the listening line is out. nil: the process started is the
	// server (no prefix, or one that execs it).
	Find func(started int) (int, error)
	// Stderr, if set, stands between the child's stderr and the tail the
	// Server keeps for its errors: it is given that tail and returns the
	// writer the child's stderr goes to, so it may copy lines elsewhere
	// or take some out before passing the rest on.
	Stderr func(tail io.Writer) io.Writer
	// Launch, if set, is given the function that starts the process and
	// must call it, for instance on a thread pinned to some CPUs so that
	// the child inherits their affinity before it runs any code.
	Launch func(start func() error) error
	// Started, if set, is called with the started process's id as soon as
	// it runs, before its listening line.
	Started func(pid int)
	// Ready, if set, is called with the server's process id once it
	// listens; an error ends the server and is Start's.
	Ready func(pid int) error
}

// Server is a server running as a child process of the readiness binary,
// so that what is measured (RSS, threads) is the server's alone.
type Server struct {
	Addr string // HOST:PORT from its listening line
	Line string // the listening line as read, without its newline: the model and its settings
	PID  int    // the server's process id (under a Prefix, the prefix's child)

	name   string // "serve ARGS...", for errors
	cmd    *exec.Cmd
	exited chan struct{} // closed once the started process has been reaped
	err    error         // Wait's result, valid once exited is closed
	stderr tail
}

var listeningRE = regexp.MustCompile(`listening on ([^\s,;()]+)`)

// Start runs `[PREFIX...] exe serve args... -addr ADDR` and waits,
// up to StartTimeout or until ctx is done, for the line on its stdout that
// says where it listens. ctx bounds only the start; Stop ends the server.
func Start(ctx context.Context, exe string, args []string, o Options) (*Server, error) {
	argv := append(append([]string(nil), o.Prefix...), exe, "serve")
	addr := o.Addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	argv = append(append(argv, args...), "-addr", addr)
	s := &Server{
		name:   strings.Join(append([]string{"serve"}, args...), " "),
		cmd:    exec.Command(argv[0], argv[1:]...),
		exited: make(chan struct{}),
		stderr: tail{max: stderrKept},
	}
	if len(o.Env) > 0 {
		s.cmd.Env = append(os.Environ(), o.Env...)
	}
	s.cmd.Stderr = &s.stderr
	if o.Stderr != nil {
		s.cmd.Stderr = o.Stderr(&s.stderr)
	}
	first := &firstLine{line: make(chan string, 1)}
	// A writer rather than StdoutPipe: Wait then reads the pipe to its
	// end itself instead of closing it under a reader still at work.
	s.cmd.Stdout = first
	// A prefix's child that outlives it would hold the pipes open and
	// keep Wait waiting for their end.
	s.cmd.WaitDelay = time.Second

	launch := o.Launch
	if launch == nil {
		launch = func(start func() error) error { return start() }
	}
	if err := launch(s.cmd.Start); err != nil {
		return nil, fmt.Errorf("start %s: %w", argv[0], err)
	}
	s.PID = s.cmd.Process.Pid
	go func() {
		s.err = s.cmd.Wait()
		close(s.exited)
	}()
	if o.Started != nil {
		o.Started(s.PID)
	}

	timer := time.NewTimer(StartTimeout)
	defer timer.Stop()
	select {
	case line := <-first.line:
		m := listeningRE.FindStringSubmatch(line)
		if m == nil {
			s.kill(o.Find)
			return nil, s.errorf("first line %q does not say `listening on HOST:PORT`", line)
		}
		s.Addr, s.Line = m[1], line
	case <-s.exited:
		return nil, s.errorf("exited before its listening line: %s", exitStatus(s.err))
	case <-timer.C:
		s.kill(o.Find)
		return nil, s.errorf("no `listening on` line within %v", StartTimeout)
	case <-ctx.Done():
		s.kill(o.Find)
		return nil, fmt.Errorf("%s: %w", s.name, ctx.Err())
	}

	if o.Find != nil {
		pid, err := o.Find(s.PID)
		if err != nil {
			s.kill(nil)
			return nil, fmt.Errorf("%s: find the server under %s: %w", s.name, argv[0], err)
		}
		s.PID = pid
	}
	if o.Ready != nil {
		if err := o.Ready(s.PID); err != nil {
			s.kill(nil)
			return nil, fmt.Errorf("%s: %w", s.name, err)
		}
	}
	return s, nil
}

// Signal sends sig to the server.
func (s *Server) Signal(sig syscall.Signal) error {
	if s.PID == s.cmd.Process.Pid {
		// The process handle knows when the process is gone, so a reaped
		// server's id, perhaps reused, is never signalled.
		if err := s.cmd.Process.Signal(sig); err != nil {
			return fmt.Errorf("%s: signal %v: %w", s.name, sig, err)
		}
		return nil
	}
	if err := syscall.Kill(s.PID, sig); err != nil {
		return fmt.Errorf("%s: signal %v: %w", s.name, sig, os.NewSyscallError("kill", err))
	}
	return nil
}

// Exited is closed once the server has exited and been reaped.
func (s *Server) Exited() <-chan struct{} { return s.exited }

// Wait waits up to limit for the server to exit, on its own or after a
// Signal, and returns its exit code: under a Prefix, the started process's;
// -1 if a signal ended it. The error says it was still running after limit,
// and is left running, or that it could not be waited for.
func (s *Server) Wait(limit time.Duration) (int, error) {
	select {
	case <-s.exited:
	default:
		timer := time.NewTimer(limit)
		defer timer.Stop()
		select {
		case <-s.exited:
		case <-timer.C:
			return -1, s.errorf("still running %v later", limit)
		}
	}
	var ee *exec.ExitError
	switch {
	case s.err == nil:
		return 0, nil
	case errors.As(s.err, &ee):
		return ee.ExitCode(), nil
	}
	return -1, fmt.Errorf("%s: wait: %w", s.name, s.err)
}

// Kill ends the server at once with SIGKILL, unless it has exited, and
// waits for it to be reaped.
func (s *Server) Kill() {
	select {
	case <-s.exited:
	default:
		s.kill(nil)
	}
}

// Stop sends SIGTERM and waits for the exit, killing the server if it has
// not exited within StopGrace. The error says how it ended unless that was
// exit status 0 after the SIGTERM.
func (s *Server) Stop() error {
	select {
	case <-s.exited:
		return s.errorf("had already exited: %s", exitStatus(s.err))
	default:
	}
	_ = s.Signal(syscall.SIGTERM)
	timer := time.NewTimer(StopGrace)
	defer timer.Stop()
	select {
	case <-s.exited:
		if s.err != nil {
			return s.errorf("exited after SIGTERM: %v", s.err)
		}
		return nil
	case <-timer.C:
		s.kill(nil)
		return s.errorf("did not exit within %v of SIGTERM and was killed", StopGrace)
	}
}

// errorf is an error about the server, ending with the tail of its stderr.
func (s *Server) errorf(format string, a ...any) error {
	return fmt.Errorf("%s: %s; stderr: %s", s.name, fmt.Sprintf(format, a...), s.stderr.String())
}

// exitStatus says how a process that was not asked to stop ended.
func exitStatus(err error) string {
	if err == nil {
		return "exit status 0"
	}
	return err.Error()
}

// kill ends the server and the process started at once and reaps the
// latter. Under a prefix whose child was not yet found, find is tried so
// the server is not left behind.
func (s *Server) kill(find func(int) (int, error)) {
	started := s.cmd.Process.Pid
	server := s.PID
	if server == started && find != nil {
		if pid, err := find(started); err == nil {
			server = pid
		}
	}
	if server != started {
		_ = syscall.Kill(server, syscall.SIGKILL)
	}
	_ = s.cmd.Process.Kill()
	select {
	case <-s.exited:
	case <-time.After(StopGrace):
	}
}

// firstLine takes the first line of a child's stdout, as written but for
// its newline, to its channel and discards the rest, so a chatty child never
// blocks on a full pipe.
type firstLine struct {
	buf  []byte
	line chan string
	done bool
}

func (f *firstLine) Write(p []byte) (int, error) {
	if f.done {
		return len(p), nil
	}
	f.buf = append(f.buf, p...)
	i := bytes.IndexByte(f.buf, '\n')
	if i < 0 && len(f.buf) <= stderrKept {
		return len(p), nil
	}
	if i < 0 {
		// No line this long is a listening line.
		i = len(f.buf)
	}
	f.line <- string(f.buf[:i])
	f.done, f.buf = true, nil
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

// SyncBuffer is a bytes.Buffer safe for a child process's writer goroutine
// and a reader: it collects a server's stderr while it runs.
type SyncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
