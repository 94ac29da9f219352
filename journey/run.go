package journey

import (
	"bufio"
	"context"
	"encoding/json"
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
	"github.com/readinesslab/readiness/internal/netns"
)

// Recorder owns what every journey of one command shares: a copy of the
// readiness binary at a path of its own, for the uprobes to attach to, and
// the probes on it. Close removes both.
type Recorder struct {
	Exe     string // the readiness binary: runs the client
	Server  string // the copy the servers run from, probed
	Probes  *ProbeSet
	Missing []string // tracepoints and uprobes this machine lacks
	points  []string // the system-wide tracepoints it has
	dir     string
}

// NewRecorder checks the machine, copies exe and adds the probes under a
// group named after this process.
func NewRecorder(exe string) (*Recorder, error) {
	if err := Check(); err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "readiness-journey")
	if err != nil {
		return nil, err
	}
	r := &Recorder{Exe: exe, Server: filepath.Join(dir, "readiness"), dir: dir}
	if err := copyFile(exe, r.Server); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if _, missing := MissingTracepoints(Syscalls); len(missing) > 0 {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("cannot record system calls: %s", missing[0])
	}
	r.points, r.Missing = MissingTracepoints(Tracepoints)
	r.Probes, err = AddProbes(r.Server, fmt.Sprintf("readiness%d", os.Getpid()))
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	r.Missing = append(r.Missing, r.Probes.Missing...)
	if !HasKprobes() {
		r.Missing = append(r.Missing, NoKprobes)
	}
	return r, nil
}

// Close removes the probes and the binary's copy.
func (r *Recorder) Close() error {
	err := r.Probes.Remove()
	if rmErr := os.RemoveAll(r.dir); err == nil {
		err = rmErr
	}
	return err
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// Options says what one journey records.
type Options struct {
	Model string
	Serve []string    // serve flags after the model
	Pair  *netns.Pair // nil: loopback
	Conns int         // 0: the two-request script; N: a burst of N connections
	Pause time.Duration
	Raw   string // keep perf.data and perf script's text in this directory
}

// Capture is one journey's raw material: the samples' text and what the
// timeline needs to read it.
type Capture struct {
	Meta   Meta
	Script string // perf script's text, both sessions
}

// Run records one journey: the server, then the client waiting for the
// go-ahead, then perf, then the script.
func (r *Recorder) Run(ctx context.Context, o Options) (*Capture, error) {
	dir, err := os.MkdirTemp(r.dir, o.Model)
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	m := Meta{Model: o.Model, Net: "lo", Serve: o.Serve, Group: r.Probes.Group, Conns: o.Conns}
	var srvOpts, cliPrefix = child.Options{}, []string(nil)
	if o.Pair != nil {
		m.Net = "veth"
		m.Devs = []string{o.Pair.Server.Dev, o.Pair.Client.Dev}
		srvOpts = child.Options{Prefix: o.Pair.Server.Prefix(), Addr: o.Pair.Server.Addr + ":0"}
		cliPrefix = o.Pair.Client.Prefix()
	}
	srv, err := child.Start(ctx, r.Server, append([]string{o.Model}, o.Serve...), srvOpts)
	if err != nil {
		return nil, err
	}
	defer srv.Stop()
	m.ServerPID = srv.PID
	if _, port, err := net.SplitHostPort(srv.Addr); err == nil {
		m.ServerPort, _ = strconv.Atoi(port)
	}
	cli, err := startClient(ctx, r.Exe, cliPrefix, srv.Addr, srv.PID, o)
	if err != nil {
		return nil, err
	}
	defer cli.kill()
	m.ClientPID = cli.cmd.Process.Pid

	sys, err := startSession(ctx, dir, "sys", []string{"-a", "-e", strings.Join(r.points, ",")})
	if err != nil {
		return nil, err
	}
	defer sys.kill()
	pidArgs := []string{"-p", pidList(m.ServerPID, m.ClientPID), "-e", strings.Join(Syscalls, ",")}
	for _, ev := range r.Probes.Events() {
		pidArgs = append(pidArgs, "-e", ev)
	}
	pids, err := startSession(ctx, dir, "pid", pidArgs)
	if err != nil {
		return nil, err
	}
	defer pids.kill()

	res, err := cli.run(ctx)
	if err != nil {
		return nil, err
	}
	m.ClientPorts = res.Ports
	// Let the server see the final close before recording stops.
	time.Sleep(20 * time.Millisecond)
	for _, s := range []*session{pids, sys} {
		if err := s.stop(); err != nil {
			return nil, err
		}
	}
	var text strings.Builder
	for _, s := range []*session{sys, pids} {
		t, err := script(ctx, s.data)
		if err != nil {
			return nil, err
		}
		text.WriteString(t)
	}
	c := &Capture{Meta: m, Script: text.String()}
	if o.Raw != "" {
		if err := c.save(o.Raw, sys.data, pids.data); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// name is how a capture's files are named: the model, the net and the
// serve flags.
func (m Meta) name() string {
	n := m.Model + "-" + m.Net
	for _, f := range m.Serve {
		n += strings.NewReplacer("-", "", "=", "-", "/", "_").Replace(f)
	}
	if m.Conns > 0 {
		n += fmt.Sprintf("-conns%d", m.Conns)
	}
	return n
}

// save keeps a capture in dir: NAME.sys.data and NAME.pid.data (perf's
// files), NAME.script (perf script's text) and NAME.meta.json.
func (c *Capture) save(dir string, data ...string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	base := filepath.Join(dir, c.Meta.name())
	for _, d := range data {
		if err := copyFile(d, base+"."+filepath.Base(d)); err != nil {
			return err
		}
	}
	b, _ := json.MarshalIndent(c.Meta, "", "  ")
	if err := os.WriteFile(base+".meta.json", b, 0o644); err != nil {
		return err
	}
	return os.WriteFile(base+".script", []byte(c.Script), 0o644)
}

// LoadCapture reads what save wrote (without perf's files).
func LoadCapture(base string) (*Capture, error) {
	c := &Capture{}
	b, err := os.ReadFile(base + ".meta.json")
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, &c.Meta); err != nil {
		return nil, fmt.Errorf("%s.meta.json: %w", base, err)
	}
	s, err := os.ReadFile(base + ".script")
	if err != nil {
		return nil, err
	}
	c.Script = string(s)
	return c, nil
}

// client is the client process, started before perf and held at its
// "ready" line until run.
type client struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	lines chan string
	done  chan error
}

func startClient(ctx context.Context, exe string, prefix []string, addr string, server int, o Options) (*client, error) {
	argv := append(append([]string(nil), prefix...), exe, "journey", "-client", addr,
		"-conns", fmt.Sprint(o.Conns), "-pause", o.Pause.String(), "-server", fmt.Sprint(server))
	c := &client{cmd: exec.Command(argv[0], argv[1:]...), lines: make(chan string, 4), done: make(chan error, 1)}
	var errb strings.Builder
	c.cmd.Stderr = &errb
	var err error
	if c.stdin, err = c.cmd.StdinPipe(); err != nil {
		return nil, err
	}
	out, err := c.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := c.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start the client: %w", err)
	}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			c.lines <- sc.Text()
		}
		close(c.lines)
		err := c.cmd.Wait()
		if err != nil {
			err = fmt.Errorf("%v: %s", err, strings.TrimSpace(errb.String()))
		}
		c.done <- err
	}()
	line, err := c.next(ctx, child.StartTimeout)
	if err != nil || line != "ready" {
		c.kill()
		return nil, fmt.Errorf("the client did not get ready (%q): %v", line, err)
	}
	return c, nil
}

func (c *client) next(ctx context.Context, limit time.Duration) (string, error) {
	select {
	case l, ok := <-c.lines:
		if !ok {
			return "", fmt.Errorf("the client exited: %v", <-c.done)
		}
		return l, nil
	case <-time.After(limit):
		return "", fmt.Errorf("no answer from the client within %v", limit)
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// run lets the client go and waits for its result and its exit.
func (c *client) run(ctx context.Context) (*ClientResult, error) {
	if _, err := io.WriteString(c.stdin, "go\n"); err != nil {
		return nil, fmt.Errorf("the client: %w", err)
	}
	line, err := c.next(ctx, 2*clientDeadline)
	if err != nil {
		return nil, err
	}
	var res ClientResult
	if err := json.Unmarshal([]byte(line), &res); err != nil {
		return nil, fmt.Errorf("the client's result %q: %w", line, err)
	}
	if res.Error != "" {
		return nil, fmt.Errorf("the client's script failed: %s", res.Error)
	}
	return &res, nil
}

// kill ends the client if it still runs and reaps it.
func (c *client) kill() {
	_ = c.cmd.Process.Kill()
	for range c.lines {
	}
}

// Timeline parses the capture's text and builds its timeline.
func (c *Capture) Timeline() (*Timeline, error) {
	samples, err := ParseScript(strings.NewReader(c.Script))
	if err != nil {
		return nil, err
	}
	return Build(samples, c.Meta), nil
}
