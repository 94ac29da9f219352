package trace

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/readinesslab/readiness/internal/proto"
)

// ErrNoStrace is returned when strace is not installed.
var ErrNoStrace = errors.New("strace is not installed: install it with `apt-get install strace` (Debian, Ubuntu) and run again")

// Syscalls is the set traced: the network calls, epoll, reads and writes,
// the futexes threads sleep and wake on, and the sleeps and timers.
const Syscalls = "%network,epoll_create1,epoll_ctl,epoll_wait,epoll_pwait,epoll_pwait2," +
	"read,write,writev,close,futex,nanosleep,clock_nanosleep,eventfd2,timerfd_create,timerfd_settime"

// Options says what to trace.
type Options struct {
	Model string   // the name shown in the output
	Exe   string   // the readiness binary, started as `Exe serve Args... -addr 127.0.0.1:0`
	Args  []string // the model and its flags
	Pause time.Duration
	// Output keeps strace's raw output at this path; empty: a temporary file.
	Output string
}

// Request is what the client sends: the smallest keep-alive request.
const Request = "GET / HTTP/1.1\r\nHost: trace\r\n\r\n"

// StraceArgs are strace's flags: follow threads (-f), print each thread's
// id and the time of each call in microseconds since the epoch (-ttt), the
// time spent in it (-T), and no signal or attach lines.
func StraceArgs(output string) []string {
	return []string{"-f", "-ttt", "-T", "-qq", "-e", "signal=none", "-e", "trace=" + Syscalls, "-s", "40", "-o", output}
}

var listeningRE = regexp.MustCompile(`listening on ([^\s,;()]+)`)

// Run starts the server under strace, drives the client script against it,
// stops it with SIGTERM and returns the annotated sequence.
func Run(ctx context.Context, o Options) (*Sequence, error) {
	strace, err := exec.LookPath("strace")
	if err != nil {
		return nil, ErrNoStrace
	}
	if o.Pause <= 0 {
		o.Pause = 100 * time.Millisecond
	}
	output := o.Output
	if output == "" {
		dir, err := os.MkdirTemp("", "readiness-trace")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)
		output = filepath.Join(dir, "strace.out")
	}
	args := append(StraceArgs(output), o.Exe, "serve")
	args = append(append(args, o.Args...), "-addr", "127.0.0.1:0")
	cmd := exec.Command(strace, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start strace: %w", err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	stop := func() {
		_ = cmd.Process.Kill()
		<-done
	}
	addr, err := listening(ctx, stdout, 15*time.Second)
	if err != nil {
		stop()
		return nil, fmt.Errorf("%s %s: %w\n%s", o.Model, strings.Join(o.Args, " "), err, stderr.String())
	}
	go func() { _, _ = io.Copy(io.Discard, stdout) }()
	pid, err := childPID(cmd.Process.Pid)
	if err != nil {
		stop()
		return nil, err
	}
	in, err := drive(addr, o.Pause)
	in.Model = o.Model
	in.Stop = time.Now()
	_ = syscall.Kill(pid, syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(pid, syscall.SIGKILL)
		stop()
		return nil, fmt.Errorf("%s did not exit within 10 s of SIGTERM", o.Model)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: client script: %w", o.Model, err)
	}
	if o.Output != "" {
		if err := saveInput(o.Output+".input.json", in); err != nil {
			return nil, err
		}
	}
	f, err := os.Open(output)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	calls, err := Parse(f)
	if err != nil {
		return nil, err
	}
	return Annotate(calls, in), nil
}

// saveInput keeps the client's side of a run beside strace's output, so the
// pair can be annotated again (the package's tests do).
func saveInput(path string, in Input) error {
	b, err := json.MarshalIndent(in, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

// LoadInput reads what saveInput wrote.
func LoadInput(path string) (Input, error) {
	var in Input
	b, err := os.ReadFile(path)
	if err != nil {
		return in, err
	}
	return in, json.Unmarshal(b, &in)
}

// listening reads the server's first stdout line and returns its address.
func listening(ctx context.Context, stdout io.Reader, limit time.Duration) (string, error) {
	line := make(chan string, 1)
	go func() {
		s, _ := bufio.NewReader(stdout).ReadString('\n')
		line <- s
	}()
	select {
	case s := <-line:
		m := listeningRE.FindStringSubmatch(s)
		if m == nil {
			return "", fmt.Errorf("first line %q does not say `listening on HOST:PORT`", s)
		}
		return m[1], nil
	case <-time.After(limit):
		return "", fmt.Errorf("no `listening on` line within %s", limit)
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// childPID finds the process strace started: the server.
func childPID(strace int) (int, error) {
	path := fmt.Sprintf("/proc/%d/task/%d/children", strace, strace)
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0, fmt.Errorf("strace (pid %d) has no child", strace)
	}
	return strconv.Atoi(f[0])
}

// drive runs the client script: conn#1 sends a request, pauses, sends a
// second; conn#2 connects and sends one; both close.
func drive(addr string, pause time.Duration) (Input, error) {
	var in Input
	mark := func(format string, a ...any) {
		in.Marks = append(in.Marks, Mark{At: time.Now(), Text: fmt.Sprintf(format, a...)})
	}
	dial := func(name string) (net.Conn, error) {
		mark("connects %s", name)
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			return nil, err
		}
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		in.Conns = append(in.Conns, Conn{Name: name, Port: c.LocalAddr().(*net.TCPAddr).Port})
		return c, nil
	}
	ask := func(c net.Conn, what string) error {
		mark("sends %s", what)
		if _, err := io.WriteString(c, Request); err != nil {
			return err
		}
		got := make([]byte, len(proto.OK))
		if _, err := io.ReadFull(c, got); err != nil {
			return err
		}
		if !bytes.Equal(got, proto.OK) {
			return fmt.Errorf("unexpected response %q", got)
		}
		mark("has the response to %s", what)
		return nil
	}
	c1, err := dial("conn#1")
	if err != nil {
		return in, err
	}
	defer c1.Close()
	if err := ask(c1, "request 1 on conn#1"); err != nil {
		return in, err
	}
	mark("pauses %s", pause)
	time.Sleep(pause)
	if err := ask(c1, "request 2 on conn#1"); err != nil {
		return in, err
	}
	c2, err := dial("conn#2")
	if err != nil {
		return in, err
	}
	defer c2.Close()
	if err := ask(c2, "request 1 on conn#2"); err != nil {
		return in, err
	}
	mark("closes conn#1 and conn#2")
	c1.Close()
	c2.Close()
	time.Sleep(pause)
	mark("sends SIGTERM")
	return in, nil
}
