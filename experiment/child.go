package experiment

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Server is a server running as a child process of the readiness binary, so
// that what is measured (RSS, threads) is the server's alone.
type Server struct {
	Addr string // HOST:PORT from its listening line
	PID  int

	cmd    *exec.Cmd
	done   chan error
	stderr SyncBuffer
}

var listeningRE = regexp.MustCompile(`listening on ([^\s,;()]+)`)

// Start runs `exe serve args... -addr 127.0.0.1:0` and waits (up to 15 s)
// for the line saying where it listens.
func Start(exe string, args []string) (*Server, error) {
	full := append([]string{"serve"}, args...)
	full = append(full, "-addr", "127.0.0.1:0")
	s := &Server{cmd: exec.Command(exe, full...), done: make(chan error, 1)}
	s.cmd.Stderr = &s.stderr
	stdout, err := s.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", exe, err)
	}
	s.PID = s.cmd.Process.Pid
	go func() { s.done <- s.cmd.Wait() }()
	line := make(chan string, 1)
	go func() {
		r := bufio.NewReader(stdout)
		l, _ := r.ReadString('\n')
		line <- strings.TrimSpace(l)
		_, _ = io.Copy(io.Discard, r)
	}()
	select {
	case l := <-line:
		m := listeningRE.FindStringSubmatch(l)
		if m == nil {
			s.kill()
			return nil, fmt.Errorf("serve %s: first line %q does not say where it listens\n%s", strings.Join(args, " "), l, s.stderr.String())
		}
		s.Addr = m[1]
		return s, nil
	case <-time.After(15 * time.Second):
		s.kill()
		return nil, fmt.Errorf("serve %s: no listening line within 15 s\n%s", strings.Join(args, " "), s.stderr.String())
	}
}

// Stop sends SIGTERM and waits for the exit, killing the server if it has
// not exited within 10 s.
func (s *Server) Stop() error {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-s.done:
		if err != nil {
			return fmt.Errorf("server exited: %w\n%s", err, s.stderr.String())
		}
		return nil
	case <-time.After(10 * time.Second):
		s.kill()
		return fmt.Errorf("server did not exit within 10 s of SIGTERM")
	}
}

func (s *Server) kill() {
	_ = s.cmd.Process.Kill()
	<-s.done
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
