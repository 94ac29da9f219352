package trace

import (
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
	"strconv"
	"strings"
	"time"

	"github.com/readinesslab/readiness/internal/child"
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
	srv, err := child.Start(ctx, o.Exe, o.Args, child.Options{
		Prefix: append([]string{strace}, StraceArgs(output)...),
		Find:   childPID,
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", o.Model, err)
	}
	in, err := drive(srv.Addr, o.Pause)
	in.Model = o.Model
	in.Stop = time.Now()
	stopErr := srv.Stop()
	if err != nil {
		return nil, fmt.Errorf("%s: client script: %w", o.Model, err)
	}
	if stopErr != nil {
		return nil, fmt.Errorf("%s: %w", o.Model, stopErr)
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
		if err := Ask(c); err != nil {
			return err
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

// Ask sends Request on c and reads the whole response, which must be the
// lab's answer byte for byte.
func Ask(c net.Conn) error {
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
	return nil
}
