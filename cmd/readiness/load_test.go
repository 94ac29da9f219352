package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/readinesslab/readiness/internal/serve"
	"github.com/readinesslab/readiness/internal/testnet"
	"github.com/readinesslab/readiness/stdserver"
)

// loadServer starts the std server on 127.0.0.1:0 for one test.
func loadServer(t *testing.T) string {
	t.Helper()
	return testnet.Start(t, stdserver.Start, serve.Config{Addr: "127.0.0.1:0"}).Addr()
}

// loadRun runs `readiness load args...` in-process, bounded in time.
func loadRun(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out, errb bytes.Buffer
	code = loadMain(ctx, args, &out, &errb)
	return out.String(), errb.String(), code
}

func TestLoadHelp(t *testing.T) {
	out, _, code := loadRun(t, "-h")
	if code != 0 {
		t.Fatalf("-h exit %d", code)
	}
	for _, f := range []string{"-c ", "-d ", "-pipeline", "-rate", "-warmup", "-threads", "-timeout", "-json", "loopback"} {
		if !strings.Contains(out, f) {
			t.Errorf("-h does not explain %q:\n%s", f, out)
		}
	}
}

func TestLoadRefusesNonLoopback(t *testing.T) {
	for _, target := range []string{"10.1.2.3:80", "192.168.0.1:8080", "8.8.8.8:53", "[2001:db8::1]:80"} {
		_, errs, code := loadRun(t, "-d", "1s", target)
		if code != 2 || !strings.Contains(errs, "loopback") {
			t.Errorf("%s: exit %d, stderr %q; want 2 and a word on loopback", target, code, errs)
		}
	}
}

func TestLoadBadArguments(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"127.0.0.1:1", "127.0.0.1:2"},
		{"-c", "0", "127.0.0.1:1"},
		{"-d", "-1s", "127.0.0.1:1"},
		{"-pipeline", "0", "127.0.0.1:1"},
		{"-rate", "-5", "127.0.0.1:1"},
		{"-nosuchflag", "127.0.0.1:1"},
		{"127.0.0.1"},
		{"example.com:80"},
	} {
		if _, errs, code := loadRun(t, args...); code != 2 || errs == "" {
			t.Errorf("%q: exit %d, stderr %q; want 2 and a message", args, code, errs)
		}
	}
}

func TestLoadJSON(t *testing.T) {
	addr := loadServer(t)
	// The target may come first too, as with wrk.
	out, errs, code := loadRun(t, addr, "-c", "4", "-d", "300ms", "-pipeline", "4", "-json")
	if code != 0 {
		t.Fatalf("exit %d, stderr %q", code, errs)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatalf("not one JSON object: %v\n%s", err, out)
	}
	for _, k := range []string{"requests", "rps", "errors", "p50_us", "p90_us", "p99_us", "p999_us", "max_us",
		"connect_errors", "resets", "timeouts", "mismatches", "closed", "duration_s", "conns", "pipeline", "rate"} {
		if _, ok := m[k]; !ok {
			t.Errorf("field %s missing: %s", k, out)
		}
	}
	if m["requests"].(float64) <= 0 || m["errors"].(float64) != 0 || m["conns"].(float64) != 4 || m["pipeline"].(float64) != 4 {
		t.Errorf("figures: %s", out)
	}
	if p50, p99 := m["p50_us"].(float64), m["p99_us"].(float64); p50 <= 0 || p99 < p50 {
		t.Errorf("p50 %v p99 %v", p50, p99)
	}
}

func TestLoadText(t *testing.T) {
	addr := loadServer(t)
	out, errs, code := loadRun(t, "-c", "4", "-d", "300ms", "-rate", "500", addr)
	if code != 0 {
		t.Fatalf("exit %d, stderr %q", code, errs)
	}
	for _, want := range []string{"4 connections", "open loop", "Latency", "p99.9", "Requests/sec:", "Errors: 0 (connect 0, reset 0, timeout 0, mismatch 0, closed 0)"} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
}

func TestLoadNothingListening(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	out, errs, code := loadRun(t, "-c", "2", "-d", "200ms", "-json", addr)
	if code != 1 || !strings.Contains(errs, "no correct response") {
		t.Errorf("exit %d, stderr %q; want 1 and a word on why", code, errs)
	}
	var s struct {
		ConnectErrors int64 `json:"connect_errors"`
		Errors        int64 `json:"errors"`
	}
	if err := json.Unmarshal([]byte(out), &s); err != nil || s.ConnectErrors == 0 || s.ConnectErrors != s.Errors {
		t.Errorf("want connect errors only, got %s (%v)", out, err)
	}
}

// TestLoadStallOpenLoop stops a real server child with SIGSTOP for 1 s in
// the middle of a 10 s open-loop run at 1000 requests/s. Every request
// due during the stall counts its wait from its intended send time, so
// the corrected p99 holds the stall; the service time counts from each
// actual send, and the client sends nothing while its connections wait
// for the stalled responses, so only the few requests in flight when the
// stall began (one per connection) see it.
func TestLoadStallOpenLoop(t *testing.T) {
	srv := startServe(t, "epoll", "-loops", "1")
	stopped := make(chan error, 1)
	go func() {
		time.Sleep(4 * time.Second)
		if err := srv.Signal(syscall.SIGSTOP); err != nil {
			stopped <- err
			return
		}
		time.Sleep(time.Second)
		stopped <- srv.Signal(syscall.SIGCONT)
	}()
	// The continue comes before the test ends even when it fails.
	t.Cleanup(func() { srv.Signal(syscall.SIGCONT) })
	out, errs, code := loadRun(t, "-c", "10", "-rate", "1000", "-d", "10s", "-json", srv.Addr)
	if err := <-stopped; err != nil {
		t.Fatalf("stop and continue the server: %v", err)
	}
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var s struct {
		Requests     int64    `json:"requests"`
		Errors       int64    `json:"errors"`
		P99us        float64  `json:"p99_us"`
		P99ServiceUs *float64 `json:"p99_service_us"`
	}
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	t.Logf("%s", out)
	if s.Errors != 0 || s.Requests < 9000 {
		t.Fatalf("%d requests, %d errors: want about 10000 and none", s.Requests, s.Errors)
	}
	if s.P99us < 800_000 {
		t.Errorf("corrected p99 %v µs: the 1 s stall should put it at 0.8 s or more", s.P99us)
	}
	if s.P99ServiceUs == nil || *s.P99ServiceUs >= 200_000 {
		t.Errorf("service p99 %v µs: want under 0.2 s, as only the requests in flight at the stall waited for it", s.P99ServiceUs)
	}
}
