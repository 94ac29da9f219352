package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/readinesslab/readiness/internal/child"
	"github.com/readinesslab/readiness/internal/proto"
	"github.com/readinesslab/readiness/internal/testnet"
)

// The readiness binary, built once on first use and removed by TestMain.
var (
	binOnce sync.Once
	binDir  string
	binPath string
	binErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

func readinessBinary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		if binDir, binErr = os.MkdirTemp("", "readiness-test-"); binErr != nil {
			return
		}
		goTool, err := exec.LookPath("go")
		if err != nil {
			goTool = filepath.Join(runtime.GOROOT(), "bin", "go")
		}
		binPath = filepath.Join(binDir, "readiness")
		out, err := exec.Command(goTool, "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// server is a running `readiness serve` and all it has written to stderr.
type server struct {
	*child.Server
	stderr *child.SyncBuffer
}

var listening = regexp.MustCompile(`^(\w+) listening on (\S+) \(loops=\d+ [^)]*\)`)

// startServe runs `readiness serve args... -addr 127.0.0.1:0`, checks its
// listening line and kills it at the end of the test.
func startServe(t *testing.T, args ...string) *server {
	t.Helper()
	stderr := &child.SyncBuffer{}
	s, err := child.Start(context.Background(), readinessBinary(t), args, child.Options{
		Stderr: func(tail io.Writer) io.Writer { return io.MultiWriter(stderr, tail) },
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Kill)
	p := &server{Server: s, stderr: stderr}
	if m := listening.FindStringSubmatch(p.Line); m == nil || m[2] != p.Addr {
		t.Fatalf("first line %q is not a listening line; stderr:\n%s", p.Line, p.stderr)
	}
	return p
}

func (p *server) signal(t *testing.T, sig syscall.Signal) {
	t.Helper()
	if err := p.Signal(sig); err != nil {
		t.Fatal(err)
	}
}

// wait returns the exit status, failing the test if the process has not
// exited within d.
func (p *server) wait(t *testing.T, d time.Duration) int {
	t.Helper()
	code, err := p.Wait(d)
	if err != nil {
		t.Fatal(err) // it ends with the tail of stderr
	}
	return code
}

// run runs `readiness serve args...` to completion.
func run(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	return readiness(t, nil, time.Minute, append([]string{"serve"}, args...)...)
}

// readiness runs the readiness binary with args (any subcommand) to
// completion, bounded in time; env is added to the environment.
func readiness(t *testing.T, env []string, limit time.Duration, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(readinessBinary(t), args...)
	cmd.Env = append(os.Environ(), env...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	timer := time.AfterFunc(limit, func() { _ = cmd.Process.Kill() })
	defer timer.Stop()
	err := cmd.Wait()
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		code = ee.ExitCode()
	default:
		t.Fatal(err)
	}
	return out.String(), errOut.String(), code
}

// request sends one GET on a new connection and checks the exact answer; it
// returns the connection, still open.
func request(t *testing.T, addr string) net.Conn {
	t.Helper()
	c := testnet.Dial(t, addr)
	testnet.Send(t, c, testnet.Get)
	testnet.Expect(t, c, proto.OK, testnet.IOTimeout)
	return c
}

// eachModel runs body for every model of the table, in parallel.
func eachModel(t *testing.T, body func(t *testing.T, m model)) {
	for _, m := range models {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			body(t, m)
		})
	}
}

func TestServeListensAndStops(t *testing.T) {
	eachModel(t, func(t *testing.T, m model) {
		p := startServe(t, m.name)
		if !strings.HasPrefix(p.Line, m.name+" listening on 127.0.0.1:") || strings.HasSuffix(p.Addr, ":0") {
			t.Fatalf("listening line %q: want the model and the real port", p.Line)
		}
		if strings.Contains(p.Line, "ignored") {
			t.Errorf("listening line %q names ignored flags, none were set", p.Line)
		}
		c := request(t, p.Addr)
		p.signal(t, syscall.SIGTERM)
		testnet.ExpectEOF(t, c, testnet.IOTimeout) // the idle connection is closed
		if code := p.wait(t, 5*time.Second); code != 0 {
			t.Fatalf("exit status %d after SIGTERM, want 0; stderr:\n%s", code, p.stderr)
		}
	})
}

// Every model accepts every flag and names the ones that do not apply to it.
func TestServeIgnoredFlags(t *testing.T) {
	eachModel(t, func(t *testing.T, m model) {
		p := startServe(t, m.name, "-trigger", "edge", "-accept", "exclusive",
			"-idle", "park", "-serial", "-delay-mode", "timer", "-loops", "1")
		var want []string
		for _, f := range []string{"trigger", "accept", "idle", "serial", "delay-mode"} {
			if m.ignores(f) {
				want = append(want, "-"+f)
			}
		}
		suffix := "; ignored by " + m.name + ": " + strings.Join(want, ", ")
		if !strings.HasSuffix(p.Line, suffix) {
			t.Errorf("listening line %q: want it to end %q", p.Line, suffix)
		}
		request(t, p.Addr)
		p.signal(t, syscall.SIGINT)
		if code := p.wait(t, 5*time.Second); code != 0 {
			t.Fatalf("exit status %d after SIGINT, want 0; stderr:\n%s", code, p.stderr)
		}
	})
}

func TestServeBadArguments(t *testing.T) {
	cases := [][]string{
		{},
		{"nginx"},
		{"std", "gnet"},
		{"std", "-nope"},
		{"std", "-loops", "-1"},
		{"std", "-max-conns", "0"},
		{"std", "-delay", "soon"},
	}
	for _, m := range models {
		cases = append(cases,
			[]string{m.name, "-trigger", "sideways"},
			[]string{m.name, "-accept", "sideways"},
			[]string{m.name, "-idle", "sideways"},
			[]string{m.name, "-delay-mode", "sideways"})
	}
	for _, args := range cases {
		stdout, stderr, code := run(t, args...)
		if code != 2 || stdout != "" || !strings.HasPrefix(stderr, "readiness serve: ") {
			t.Errorf("serve %q: exit %d, stdout %q, stderr %q; want exit 2 and a message on stderr", args, code, stdout, stderr)
		}
	}
}

func TestServeHelp(t *testing.T) {
	stdout, _, code := run(t, "-h")
	if code != 0 {
		t.Fatalf("-h: exit %d", code)
	}
	flat := strings.Join(strings.Fields(stdout), " ")
	for _, m := range models {
		if !strings.Contains(stdout, "\n  "+m.name+" ") || !strings.Contains(flat, m.summary) {
			t.Errorf("-h does not explain model %s:\n%s", m.name, stdout)
		}
	}
	for _, f := range []string{"addr", "loops", "trigger", "accept", "idle", "serial", "delay", "delay-mode",
		"idle-timeout", "header-timeout", "max-conns", "cpuprofile"} {
		if !strings.Contains(stdout, "\n  -"+f+" ") && !strings.Contains(stdout, "\n  -"+f+"\n") {
			t.Errorf("-h does not explain -%s:\n%s", f, stdout)
		}
	}
}

// -cpuprofile writes a profile of the serving period, closed at shutdown.
func TestServeCPUProfile(t *testing.T) {
	eachModel(t, func(t *testing.T, m model) {
		file := filepath.Join(t.TempDir(), "cpu.pprof")
		p := startServe(t, m.name, "-cpuprofile", file)
		request(t, p.Addr)
		p.signal(t, syscall.SIGTERM)
		if code := p.wait(t, 5*time.Second); code != 0 {
			t.Fatalf("exit status %d, want 0; stderr:\n%s", code, p.stderr)
		}
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if len(b) < 2 || b[0] != 0x1f || b[1] != 0x8b {
			t.Fatalf("%s is not a gzipped pprof profile (%d bytes)", file, len(b))
		}
	})
}
