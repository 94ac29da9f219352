package soak

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/readinesslab/readiness/internal/proto"
	"github.com/readinesslab/readiness/internal/serve"
	"github.com/readinesslab/readiness/internal/testnet"
	"github.com/readinesslab/readiness/stdserver"
)

// startStd runs the std server in this process with the given timeouts.
func startStd(t *testing.T, idle, header time.Duration) string {
	t.Helper()
	cfg := serve.Default()
	cfg.Addr = "127.0.0.1:0"
	cfg.Loops = 2
	cfg.IdleTimeout, cfg.HeaderTimeout = idle, header
	return testnet.Start(t, stdserver.Start, cfg).Addr()
}

// shortConfig is a soak of a second and a half against a server with
// one-second timeouts.
func shortConfig() Config {
	return Config{
		Duration:      1500 * time.Millisecond,
		Interval:      250 * time.Millisecond,
		Settle:        5 * time.Second,
		IdleTimeout:   time.Second,
		HeaderTimeout: time.Second,
		ChurnEvery:    500 * time.Millisecond,
		Churn:         8,
		Idle:          2,
		Limits:        Limits{RSSGrowth: 512 << 20}, // the test process's RSS is the test's as much as the server's
	}
}

func TestRunPasses(t *testing.T) {
	addr := startStd(t, time.Second, time.Second)
	var progress bytes.Buffer
	cfg := shortConfig()
	cfg.Progress = &progress
	rep, err := Run(context.Background(), cfg, []Target{{Name: "std", Addr: addr, PID: os.Getpid()}})
	if err != nil {
		t.Fatal(err)
	}
	var text bytes.Buffer
	rep.WriteText(&text)
	t.Logf("%s\n%s", progress.String(), text.String())
	s := rep.Servers[0]
	if !rep.Pass || !s.Pass {
		t.Fatalf("a correct server failed: %q %q", s.Failures, s.Messages)
	}
	if s.GoodRequests < 100 || s.GoodErrors != 0 {
		t.Errorf("good requests %d, errors %d: want hundreds and none", s.GoodRequests, s.GoodErrors)
	}
	for _, k := range []kind{kindReset, kindUnread, kindInvalid, kindChurn} {
		if s.Hostile[k] == 0 {
			t.Errorf("no %s operations ran", k)
		}
	}
	if len(s.Curve.Load) < 4 || s.Curve.Settled.FDs > s.Curve.Baseline.FDs {
		t.Errorf("curve %+v: want readings and fds back to baseline", s.Curve)
	}
	if !strings.Contains(progress.String(), "| std good ") || !strings.Contains(text.String(), "PASS") {
		t.Errorf("progress or report lacks its lines")
	}
	b, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	var out struct {
		Pass    bool `json:"pass"`
		Servers []struct {
			Model        string           `json:"model"`
			GoodRequests int64            `json:"good_requests"`
			ByKind       map[string]int64 `json:"hostile_by_kind"`
			Samples      []map[string]any `json:"samples"`
		} `json:"servers"`
	}
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	if !out.Pass || len(out.Servers) != 1 || out.Servers[0].GoodRequests != s.GoodRequests || out.Servers[0].ByKind["invalid"] != s.Hostile[kindInvalid] || len(out.Servers[0].Samples) != len(s.Curve.Load) {
		t.Errorf("JSON does not match the report: %s", b)
	}
}

// corrupter is a proxy in front of a correct server that changes the byte
// at offset `at` of every answer stream: a server that is wrong once the
// first response is out.
func corrupter(t *testing.T, backend string, at int) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
	})
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() { proxy(c.(*net.TCPConn), backend, at) })
		}
	})
	return ln.Addr().String()
}

func proxy(c *net.TCPConn, backend string, at int) {
	defer c.Close()
	b, err := net.DialTimeout("tcp", backend, 5*time.Second)
	if err != nil {
		return
	}
	defer b.Close()
	go func() {
		_, _ = io.Copy(b, c)
		_ = b.(*net.TCPConn).CloseWrite()
	}()
	buf := make([]byte, 4096)
	for off := 0; ; {
		n, err := b.Read(buf)
		if at >= off && at < off+n {
			buf[at-off] ^= 0x20
		}
		off += n
		if _, werr := c.Write(buf[:n]); werr != nil {
			return
		}
		if err != nil {
			_ = c.CloseWrite()
			return
		}
	}
}

func TestRunWrongByte(t *testing.T) {
	addr := corrupter(t, startStd(t, time.Second, time.Second), len(proto.OK)+14)
	cfg := shortConfig()
	cfg.Settle = time.Second // the proxy's connections close late; fds are not the point here
	rep, err := Run(context.Background(), cfg, []Target{{Name: "wrong", Addr: addr, PID: os.Getpid()}})
	if err != nil {
		t.Fatal(err)
	}
	s := rep.Servers[0]
	if rep.Pass || s.Pass || s.GoodErrors == 0 {
		t.Fatalf("a server answering a wrong byte passed: good %d, errors %d, failures %q", s.GoodRequests, s.GoodErrors, s.Failures)
	}
	found := false
	for _, m := range s.Messages {
		found = found || (strings.HasPrefix(m, "good: ") && strings.Contains(m, "wrong byte at byte "))
	}
	if !found {
		t.Errorf("no message names the wrong byte: %q", s.Messages)
	}
	var text bytes.Buffer
	rep.WriteText(&text)
	if !strings.Contains(text.String(), "FAIL") {
		t.Errorf("report does not say FAIL:\n%s", text.String())
	}
}

func TestRunRefusesBadTargets(t *testing.T) {
	for _, tg := range [][]Target{nil, {{Name: "far", Addr: "192.0.2.1:80", PID: os.Getpid()}}} {
		if _, err := Run(context.Background(), shortConfig(), tg); err == nil {
			t.Errorf("%v: no error", tg)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	if _, err := Run(context.Background(), shortConfig(), []Target{{Name: "dead", Addr: addr, PID: os.Getpid()}}); err == nil || !strings.Contains(err.Error(), "warm-up") {
		t.Errorf("a dead server: %v, want a warm-up error", err)
	}
}

func TestBatchAnswers(t *testing.T) {
	// Every batch the good clients draw is answered, byte for byte, by
	// the shared framing: the expectations are the contract's.
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 200; i++ {
		b := newBatch(rng, 1+i%8, i%5 == 0)
		var st proto.State
		out, n, verdict := st.Serve(b.req, nil)
		if n != len(b.req) || !bytes.Equal(out, b.want) {
			t.Fatalf("batch %d: consumed %d of %d, answers differ:\n got %q\nwant %q", i, n, len(b.req), out, b.want)
		}
		if want := map[bool]proto.Verdict{true: proto.Close, false: proto.Open}[b.closes]; verdict != want {
			t.Fatalf("batch %d: verdict %v, want %v", i, verdict, want)
		}
	}
}

func TestInvalidAnswers(t *testing.T) {
	// The invalid requests get, from the shared framing, exactly the
	// answers the hostile client requires.
	for _, in := range invalids {
		var st proto.State
		out, _, verdict := st.Serve([]byte(in.req), nil)
		if !bytes.Equal(out, in.want) || verdict != proto.Fail {
			t.Errorf("%.40q: %q %v, want %q and Fail", in.req, out, verdict, in.want)
		}
	}
}
