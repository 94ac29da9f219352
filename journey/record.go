package journey

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Bounds on perf's start, stop and the script it records.
const (
	perfStartTimeout = 15 * time.Second
	perfStopTimeout  = 15 * time.Second
	scriptTimeout    = 60 * time.Second
)

// session is one `perf record` started disabled and enabled through its
// control fifo, so recording is known to have begun before the client runs.
type session struct {
	name    string
	data    string
	cmd     *exec.Cmd
	ctl     *os.File
	ack     *bufio.Reader
	ackF    *os.File
	stderr  strings.Builder
	exited  chan struct{} // closed once perf has exited and been reaped
	waitErr error         // Wait's result, valid once exited is closed
}

// startSession runs `perf record -k mono -D -1 --control ... ARGS` writing
// DIR/NAME.data and returns once perf has acknowledged "enable".
func startSession(ctx context.Context, dir, name string, args []string) (*session, error) {
	s := &session{name: name, data: filepath.Join(dir, name+".data")}
	ctlPath, ackPath := filepath.Join(dir, name+".ctl"), filepath.Join(dir, name+".ack")
	for _, p := range []string{ctlPath, ackPath} {
		if err := syscall.Mkfifo(p, 0o600); err != nil {
			return nil, fmt.Errorf("mkfifo %s: %w", p, err)
		}
	}
	argv := append([]string{"record", "-q", "-B", "-N", "-k", "mono", "-D", "-1",
		"--control", "fifo:" + ctlPath + "," + ackPath, "-o", s.data}, args...)
	s.cmd = exec.Command("perf", argv...)
	s.cmd.Stderr = &s.stderr
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start perf record: %w", err)
	}
	s.exited = make(chan struct{})
	go func() {
		s.waitErr = s.cmd.Wait()
		close(s.exited)
	}()
	// perf opens the control fifo for reading and the ack fifo for
	// writing; opening our ends read-write never blocks on perf's side.
	var err error
	if s.ctl, err = os.OpenFile(ctlPath, os.O_RDWR, 0); err == nil {
		s.ackF, err = os.OpenFile(ackPath, os.O_RDWR, 0)
	}
	if err != nil {
		s.kill()
		return nil, fmt.Errorf("perf record control fifo: %w", err)
	}
	s.ack = bufio.NewReader(s.ackF)
	if _, err := s.ctl.WriteString("enable\n"); err != nil {
		s.kill()
		return nil, fmt.Errorf("perf record control fifo: %w", err)
	}
	got := make(chan error, 1)
	go func() {
		line, err := s.ack.ReadString('\n')
		if err == nil && strings.TrimSpace(line) != "ack" {
			err = fmt.Errorf("perf answered %q to enable", line)
		}
		got <- err
	}()
	select {
	case err := <-got:
		if err != nil {
			s.kill()
			return nil, err
		}
	case <-s.exited:
		s.close()
		return nil, fmt.Errorf("perf record (%s) exited before recording: %v: %s", name, s.waitErr, strings.TrimSpace(s.stderr.String()))
	case <-time.After(perfStartTimeout):
		s.kill()
		return nil, fmt.Errorf("perf record (%s) did not start recording within %v", name, perfStartTimeout)
	case <-ctx.Done():
		s.kill()
		return nil, ctx.Err()
	}
	return s, nil
}

// stop disables the events, so every one recorded is in perf's buffers
// when it is told to finish, then ends the recording with SIGINT, as ^C
// would, and waits for perf to write its file, killing it after
// perfStopTimeout.
func (s *session) stop() error {
	defer s.close()
	if _, err := s.ctl.WriteString("disable\n"); err == nil {
		got := make(chan struct{})
		go func() {
			_, _ = s.ack.ReadString('\n')
			close(got)
		}()
		select {
		case <-got:
		case <-s.exited:
		case <-time.After(perfStopTimeout):
		}
	}
	_ = s.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-s.exited:
		err := s.waitErr
		// perf record may report SIGINT as its exit status.
		if err != nil && s.cmd.ProcessState != nil && !s.cmd.ProcessState.Exited() {
			return nil
		}
		if err != nil {
			return fmt.Errorf("perf record (%s): %v: %s", s.name, err, strings.TrimSpace(s.stderr.String()))
		}
		return nil
	case <-time.After(perfStopTimeout):
		_ = s.cmd.Process.Kill()
		<-s.exited
		return fmt.Errorf("perf record (%s) did not stop within %v of SIGINT and was killed: its capture is incomplete", s.name, perfStopTimeout)
	}
}

func (s *session) kill() {
	select {
	case <-s.exited:
	default:
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
	s.close()
}

func (s *session) close() {
	if s.ctl != nil {
		s.ctl.Close()
	}
	if s.ackF != nil {
		s.ackF.Close()
	}
}

// scriptFields are the fields asked of perf script, so its lines keep one
// shape: "COMM PID/TID [CPU] SECS.NANOS: EVENT: DETAILS".
const scriptFields = "comm,pid,tid,cpu,time,event,trace"

// script runs perf script on a session's file and returns its text.
func script(ctx context.Context, data string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, scriptTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "perf", "script", "-i", data, "--ns", "-F", scriptFields)
	var errb strings.Builder
	cmd.Stderr = &errb
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("perf script -i %s: %v: %s", data, err, strings.TrimSpace(errb.String()))
	}
	return string(out), nil
}

// pidList is perf's -p argument.
func pidList(pids ...int) string {
	s := make([]string, len(pids))
	for i, p := range pids {
		s[i] = strconv.Itoa(p)
	}
	return strings.Join(s, ",")
}
