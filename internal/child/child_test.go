package child

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestMain lets the test binary stand in for `readiness serve`: run as
// `EXE serve BEHAVIOUR ... -addr 127.0.0.1:0`, it behaves as BEHAVIOUR says.
func TestMain(m *testing.M) {
	if len(os.Args) > 2 && os.Args[1] == "serve" {
		os.Exit(fakeServe(os.Args[2], os.Args[3:]))
	}
	os.Exit(m.Run())
}

// fakeServe is the stand-in server. Behaviours: "ok" listens and exits 0
// on SIGTERM, "exit4" exits 4 on SIGTERM, "hang" ignores SIGTERM, "quiet"
// never says where it listens, "chatty" says something else first, "die"
// exits 3 before listening, "leave" exits 5 once it has said where it
// listens, "padded" puts spaces and a carriage return around its line.
func fakeServe(behaviour string, rest []string) int {
	if n := len(rest); n < 2 || rest[n-2] != "-addr" || rest[n-1] != "127.0.0.1:0" {
		fmt.Fprintf(os.Stderr, "fake: arguments %q do not end with -addr 127.0.0.1:0\n", rest)
		return 2
	}
	fmt.Fprintln(os.Stderr, "fake: starting")
	switch behaviour {
	case "die":
		fmt.Fprintln(os.Stderr, "fake: boom")
		return 3
	case "quiet":
		time.Sleep(time.Minute)
		return 0
	case "chatty":
		fmt.Println("hello")
		time.Sleep(time.Minute)
		return 0
	}
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM)
	if behaviour == "hang" {
		signal.Ignore(syscall.SIGTERM)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_, _ = io.WriteString(c, "fake")
			c.Close()
		}
	}()
	switch behaviour {
	case "padded":
		fmt.Printf("  fake listening on %s (pid %d) \r\n", ln.Addr(), os.Getpid())
	case "leave":
		fmt.Printf("fake listening on %s (pid %d)\n", ln.Addr(), os.Getpid())
		return 5
	default:
		fmt.Printf("fake listening on %s (pid %d)\n", ln.Addr(), os.Getpid())
	}
	<-term
	if behaviour == "exit4" {
		return 4
	}
	return 0
}

func self(t *testing.T) string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return exe
}

// startFake starts the stand-in and stops it at the end of the test.
func startFake(t *testing.T, behaviour string, o Options) *Server {
	t.Helper()
	s, err := Start(context.Background(), self(t), []string{behaviour}, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Kill)
	return s
}

// greet checks that the server at addr is the stand-in.
func greet(t *testing.T, addr string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	b, err := io.ReadAll(c)
	if err != nil || string(b) != "fake" {
		t.Fatalf("%s answered %q, %v", addr, b, err)
	}
}

// gone reports whether process pid has ended (a zombie waiting for a
// parent that is not ours has), waiting up to 2 s for a killed one.
func gone(pid int) bool {
	for deadline := time.Now().Add(2 * time.Second); ; {
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return true
		}
		if _, after, ok := strings.Cut(string(stat), ") "); ok && strings.HasPrefix(after, "Z") {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestStartAndStop(t *testing.T) {
	t.Parallel()
	s := startFake(t, "ok", Options{})
	greet(t, s.Addr)
	if err := s.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if !gone(s.PID) {
		t.Errorf("process %d still exists after Stop", s.PID)
	}
	if err := s.Stop(); err == nil || !strings.Contains(err.Error(), "had already exited: exit status 0") {
		t.Errorf("second Stop: %v, want it to say the server had already exited", err)
	}
}

func TestStopReportsTheExit(t *testing.T) {
	t.Parallel()
	s := startFake(t, "exit4", Options{})
	err := s.Stop()
	if err == nil || !strings.Contains(err.Error(), "exited after SIGTERM: exit status 4") || !strings.Contains(err.Error(), "fake: starting") {
		t.Fatalf("Stop: %v, want the exit status and the stderr tail", err)
	}
}

func TestStopKillsAHungServer(t *testing.T) {
	t.Parallel()
	s := startFake(t, "hang", Options{})
	begin := time.Now()
	err := s.Stop()
	if err == nil || !strings.Contains(err.Error(), "did not exit within") {
		t.Fatalf("Stop: %v, want it to say the server was killed", err)
	}
	if took := time.Since(begin); took < StopGrace {
		t.Errorf("killed after %v, before the grace of %v", took, StopGrace)
	}
	if !gone(s.PID) {
		t.Errorf("process %d still exists after the kill", s.PID)
	}
}

func TestStartFailures(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		behaviour string
		want      []string
	}{
		{"die", []string{"serve die: exited before its listening line: exit status 3", "fake: boom"}},
		{"chatty", []string{"serve chatty: first line \"hello\" does not say `listening on HOST:PORT`", "fake: starting"}},
	} {
		t.Run(c.behaviour, func(t *testing.T) {
			t.Parallel()
			var pid int
			_, err := Start(context.Background(), self(t), []string{c.behaviour}, Options{Started: func(p int) { pid = p }})
			if err == nil {
				t.Fatal("started")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			if pid == 0 || !gone(pid) {
				t.Errorf("process %d was not ended", pid)
			}
		})
	}
}

func TestStartEndsWithTheContext(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	var pid int
	_, err := Start(ctx, self(t), []string{"quiet"}, Options{Started: func(p int) { pid = p }})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Start: %v, want the context's deadline", err)
	}
	if pid == 0 || !gone(pid) {
		t.Errorf("process %d was not ended", pid)
	}
}

// The hooks run in order, around the right process, and the stderr filter
// sees every line while the tail keeps what it passes on.
func TestHooks(t *testing.T) {
	t.Parallel()
	var steps []string
	var copied SyncBuffer
	o := Options{
		Launch: func(start func() error) error {
			steps = append(steps, "launch")
			return start()
		},
		Started: func(pid int) { steps = append(steps, "started "+strconv.Itoa(pid)) },
		Ready:   func(pid int) error { steps = append(steps, "ready "+strconv.Itoa(pid)); return nil },
		Stderr: func(tail io.Writer) io.Writer {
			return io.MultiWriter(&copied, tail)
		},
	}
	s := startFake(t, "exit4", o)
	want := []string{"launch", "started " + strconv.Itoa(s.PID), "ready " + strconv.Itoa(s.PID)}
	if strings.Join(steps, ", ") != strings.Join(want, ", ") {
		t.Errorf("hooks ran as %q, want %q", steps, want)
	}
	err := s.Stop()
	if !strings.Contains(copied.String(), "fake: starting") {
		t.Errorf("the stderr filter saw %q", copied.String())
	}
	if err == nil || !strings.Contains(err.Error(), "fake: starting") {
		t.Errorf("Stop: %v, want the tail the filter passed on", err)
	}
}

func TestReadyFailureEndsTheServer(t *testing.T) {
	t.Parallel()
	var pid int
	_, err := Start(context.Background(), self(t), []string{"ok"}, Options{
		Ready: func(p int) error { pid = p; return errors.New("cannot pin") },
	})
	if err == nil || !strings.Contains(err.Error(), "cannot pin") {
		t.Fatalf("Start: %v, want Ready's error", err)
	}
	if pid == 0 || !gone(pid) {
		t.Errorf("process %d was not ended", pid)
	}
}

// children lists the children of process pid, as trace finds the server
// strace started.
func children(pid int) (int, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
	if err != nil {
		return 0, err
	}
	f := strings.Fields(string(b))
	if len(f) != 1 {
		return 0, fmt.Errorf("process %d has children %q", pid, f)
	}
	return strconv.Atoi(f[0])
}

// A prefix that runs the server as its child: signals go to the server,
// and the prefix's exit is the server's.
func TestPrefix(t *testing.T) {
	t.Parallel()
	shell := []string{"/bin/sh", "-c", `"$0" "$@"; exit $?`}
	var started int
	s := startFake(t, "exit4", Options{Prefix: shell, Find: children, Started: func(p int) { started = p }})
	if s.PID == started {
		t.Fatalf("the server's pid is the shell's (%d)", started)
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", s.PID))
	if err != nil || !strings.Contains(string(cmdline), "serve\x00exit4") {
		t.Fatalf("process %d runs %q (%v), want the stand-in", s.PID, cmdline, err)
	}
	greet(t, s.Addr)
	if err := s.Stop(); err == nil || !strings.Contains(err.Error(), "exit status 4") {
		t.Errorf("Stop: %v, want the server's exit status through the shell", err)
	}
	if !gone(started) || !gone(s.PID) {
		t.Errorf("shell %d or server %d still exists", started, s.PID)
	}

	// Under a prefix that is killed before its child is found, the child
	// is found and killed too.
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	var found int
	find := func(p int) (int, error) {
		pid, err := children(p)
		found = pid
		return pid, err
	}
	_, err = Start(ctx, self(t), []string{"quiet"}, Options{Prefix: shell, Find: find, Started: func(p int) { started = p }})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Start: %v, want the context's deadline", err)
	}
	if found == 0 || !gone(found) || !gone(started) {
		t.Errorf("shell %d or its child %d was not ended", started, found)
	}
}

// Env reaches the child's environment (and only the child's), and Line is
// the listening line.
func TestEnvAndLine(t *testing.T) {
	t.Parallel()
	const entry = "READINESS_CHILD_TEST=variant"
	s := startFake(t, "ok", Options{Env: []string{entry}})
	environ, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", s.PID))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(strings.Split(string(environ), "\x00"), entry) {
		t.Errorf("the child's environment lacks %s", entry)
	}
	if os.Getenv("READINESS_CHILD_TEST") != "" {
		t.Error("Env changed this process's environment")
	}
	if want := "fake listening on " + s.Addr + " (pid "; !strings.HasPrefix(s.Line, want) {
		t.Errorf("Line %q, want it to start %q", s.Line, want)
	}
}

// Line is the listening line as the server wrote it, spaces and all.
func TestLineAsWritten(t *testing.T) {
	t.Parallel()
	s := startFake(t, "padded", Options{})
	if want := "  fake listening on " + s.Addr + " (pid " + strconv.Itoa(s.PID) + ") \r"; s.Line != want {
		t.Errorf("Line %q, want %q", s.Line, want)
	}
	greet(t, s.Addr)
}

// Wait gives the exit code after a chosen signal, after an exit of the
// server's own and after a kill, and leaves a server that has not exited
// running.
func TestWait(t *testing.T) {
	t.Parallel()
	s := startFake(t, "exit4", Options{})
	if code, err := s.Wait(200 * time.Millisecond); err == nil || code != -1 || !strings.Contains(err.Error(), "still running 200ms later") {
		t.Fatalf("Wait on a running server: %d, %v; want -1 and an error saying it is still running", code, err)
	}
	greet(t, s.Addr)
	if err := s.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code, err := s.Wait(5 * time.Second); code != 4 || err != nil {
		t.Errorf("Wait after SIGTERM: %d, %v; want exit code 4", code, err)
	}
	if code, err := s.Wait(0); code != 4 || err != nil {
		t.Errorf("Wait again: %d, %v; want exit code 4 at once", code, err)
	}

	s = startFake(t, "leave", Options{})
	if code, err := s.Wait(5 * time.Second); code != 5 || err != nil {
		t.Errorf("Wait on a server that exits by itself: %d, %v; want exit code 5", code, err)
	}

	// The stand-in does not catch SIGINT: the signal ends it.
	s = startFake(t, "ok", Options{})
	if err := s.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if code, err := s.Wait(5 * time.Second); code != -1 || err != nil {
		t.Errorf("Wait after SIGINT: %d, %v; want -1 for the signal", code, err)
	}
}

// Kill ends a server that ignores SIGTERM at once, and does nothing to one
// that has exited.
func TestKill(t *testing.T) {
	t.Parallel()
	s := startFake(t, "hang", Options{})
	begin := time.Now()
	s.Kill()
	if took := time.Since(begin); took >= StopGrace {
		t.Errorf("Kill took %v, the grace a SIGTERM would get", took)
	}
	select {
	case <-s.Exited():
	default:
		t.Fatal("Kill returned before the server was reaped")
	}
	if !gone(s.PID) {
		t.Errorf("process %d still exists after Kill", s.PID)
	}
	if code, err := s.Wait(0); code != -1 || err != nil {
		t.Errorf("Wait after Kill: %d, %v; want -1 for the signal", code, err)
	}
	s.Kill()
	if err := s.Signal(syscall.SIGTERM); err == nil {
		t.Error("Signal to a killed server succeeded")
	}
}
