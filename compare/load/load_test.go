package load

import (
	"context"
	"errors"
	"net"
	"os"
	"sync/atomic"
	"testing"
	"time"
)

// run loads addr with cfg (short, bounded) and fails the test on an error.
func run(t *testing.T, cfg Config) *Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r, err := Run(ctx, cfg)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	t.Logf("requests %d rps %.0f errors %d (connect %d reset %d timeout %d mismatch %d closed %d) p50 %v p99 %v p99.9 %v max %v",
		r.Requests, r.RPS, r.Errors, r.ConnectErrors, r.Resets, r.Timeouts, r.Mismatches, r.Closed,
		r.Quantile(0.5), r.Quantile(0.99), r.Quantile(0.999), r.Max())
	return r
}

// openFds counts this process's open file descriptors.
func openFds(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

func TestCorrectServer(t *testing.T) {
	addr := startServer(t, serveCorrect(nil))
	before := openFds(t)
	var windows []bool
	r := run(t, Config{Addr: addr, Conns: 8, Threads: 2, Duration: 300 * time.Millisecond, Warmup: 100 * time.Millisecond,
		OnWindow: func(begin bool) { windows = append(windows, begin) }})
	if r.Requests == 0 || r.Errors != 0 {
		t.Fatalf("requests %d errors %d: want some requests and no errors", r.Requests, r.Errors)
	}
	if got := r.Latency.TotalCount(); got != r.Requests {
		t.Errorf("histogram holds %d latencies for %d requests", got, r.Requests)
	}
	if r.Elapsed < 250*time.Millisecond || r.Elapsed > 350*time.Millisecond {
		t.Errorf("elapsed %v, want the 300ms window", r.Elapsed)
	}
	if len(windows) != 2 || !windows[0] || windows[1] {
		t.Errorf("OnWindow calls %v, want [true false]", windows)
	}
	if after := openFds(t); after != before {
		t.Errorf("open fds %d before the run, %d after", before, after)
	}
}

func TestPipeline16(t *testing.T) {
	var most atomic.Int64
	addr := startServer(t, serveCorrect(func(n int) {
		for m := most.Load(); int64(n) > m && !most.CompareAndSwap(m, int64(n)); m = most.Load() {
		}
	}))
	r := run(t, Config{Addr: addr, Conns: 4, Threads: 1, Pipeline: 16, Duration: 300 * time.Millisecond})
	if r.Requests == 0 || r.Errors != 0 {
		t.Fatalf("requests %d errors %d: want some requests and no errors", r.Requests, r.Errors)
	}
	if m := most.Load(); m < 2 || m > 16 {
		t.Errorf("the server answered at most %d requests from one read; want 2..16 with pipeline 16", m)
	}
}

// TestFailureKinds points the generator at servers that are wrong in one
// way each, and checks that exactly that kind of failure is counted.
func TestFailureKinds(t *testing.T) {
	cases := []struct {
		name  string
		start func(t *testing.T) string
		kind  func(r *Result) int64
	}{
		{"wrong bytes", serving(serveWrongBytes), func(r *Result) int64 { return r.Mismatches }},
		{"early close", serving(serveEarlyClose), func(r *Result) int64 { return r.Closed }},
		{"reset", serving(serveReset), func(r *Result) int64 { return r.Resets }},
		{"stall", serving(serveStall), func(r *Result) int64 { return r.Timeouts }},
		{"refused", closedPort, func(r *Result) int64 { return r.ConnectErrors }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			addr := tc.start(t)
			r := run(t, Config{Addr: addr, Conns: 4, Threads: 1, Duration: 500 * time.Millisecond, Timeout: 100 * time.Millisecond})
			if r.Requests != 0 {
				t.Errorf("%d requests counted as correct", r.Requests)
			}
			if k := tc.kind(r); k == 0 || k != r.Errors {
				t.Errorf("this kind counted %d of %d errors; want all of them, and some", k, r.Errors)
			}
			// A failed connection is reopened after a 10ms back-off, never
			// in a tight loop: 4 connections over 0.5s stay far below this.
			if r.Errors > 4*500/10+8 {
				t.Errorf("%d errors in 0.5s on 4 connections: the back-off is not holding", r.Errors)
			}
		})
	}
}

func serving(handle func(net.Conn)) func(t *testing.T) string {
	return func(t *testing.T) string { return startServer(t, handle) }
}

// closedPort is a loopback address where nothing listens: a port the
// kernel just handed out and that was closed again.
func closedPort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestRefusesNonLoopback(t *testing.T) {
	for _, addr := range []string{"10.0.0.1:80", "192.168.1.1:8080", "8.8.8.8:53", "[2001:db8::1]:80", "[fe80::1%lo]:80"} {
		if _, err := Run(context.Background(), Config{Addr: addr, Duration: time.Millisecond}); !errors.Is(err, ErrNotLoopback) {
			t.Errorf("%s: err %v, want ErrNotLoopback", addr, err)
		}
	}
	for _, addr := range []string{"example.com:80", "127.0.0.1", "127.0.0.1:0", "127.0.0.1:99999"} {
		if _, err := ParseAddr(addr); err == nil {
			t.Errorf("%s accepted", addr)
		}
	}
	for _, addr := range []string{"127.0.0.1:80", "127.1.2.3:80", "localhost:8080", "[::1]:80", "[::ffff:127.0.0.1]:80"} {
		if _, err := ParseAddr(addr); err != nil {
			t.Errorf("%s: %v", addr, err)
		}
	}
}

func TestContextCancel(t *testing.T) {
	addr := startServer(t, serveCorrect(nil))
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	r, err := Run(ctx, Config{Addr: addr, Conns: 2, Duration: time.Minute})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err %v, want the context's", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Errorf("Run took %v to stop after its context ended", time.Since(start))
	}
	if r == nil || r.Requests == 0 || r.Elapsed > time.Second {
		t.Errorf("want the partial result of about 200ms, got %+v", r)
	}
}
