package main

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/readinesslab/readiness/experiment"
)

func TestIdleStd(t *testing.T) {
	stdout, stderr, code := readiness(t, nil, 60*time.Second, "idle", "-conns", "200", "-warmup", "20", "-settle", "200ms", "-models", "std", "-json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var out struct {
		Rows []experiment.IdleRow `json:"rows"`
	}
	if err := json.Unmarshal([]byte(stdout), &out); err != nil {
		t.Fatalf("%v\n%s", err, stdout)
	}
	if len(out.Rows) != 1 {
		t.Fatalf("rows: %+v", out.Rows)
	}
	r := out.Rows[0]
	if r.Server != "std" || r.Conns != 200 || r.OK != 200 {
		t.Errorf("row %+v: want 200 of 200 connections answered", r)
	}
	// Each idle std connection holds a goroutine stack at least: growth
	// must show, and stay finite.
	if r.BytesPerConn <= 0 || math.IsInf(r.BytesPerConn, 0) || math.IsNaN(r.BytesPerConn) || r.RSSAfter <= r.RSSBefore {
		t.Errorf("row %+v: want a positive, finite figure per connection", r)
	}
	if r.ThreadsBefore < 1 || r.ThreadsAfter < 1 {
		t.Errorf("threads %d -> %d", r.ThreadsBefore, r.ThreadsAfter)
	}
}

func TestIdleManySources(t *testing.T) {
	// 300 connections over three source addresses: the spreading works.
	stdout, stderr, code := readiness(t, nil, 60*time.Second, "idle", "-conns", "300", "-per-source", "100", "-warmup", "5", "-settle", "100ms", "-models", "epoll")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, "bytes_per_conn") || !strings.Contains(stdout, "300     300") {
		t.Errorf("output:\n%s", stdout)
	}
}

func TestIdleArguments(t *testing.T) {
	for _, args := range [][]string{{"idle", "-conns", "0"}, {"idle", "-models", "nosuch"}, {"idle", "-per-source", "30000"}, {"idle", "x"}} {
		if _, stderr, code := readiness(t, nil, 10*time.Second, args...); code != 2 || stderr == "" {
			t.Errorf("%q: exit %d, stderr %q: want 2 and a message", args, code, stderr)
		}
	}
}
