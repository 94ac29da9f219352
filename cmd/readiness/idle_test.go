package main

import (
	"encoding/json"
	"math"
	"os"
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
	if _, err := os.ReadFile("/proc/slabinfo"); err != nil {
		// Not root: the row must say why the kernel's side is missing.
		if r.KernelNote == "" || r.TotalBytesPerConn != nil {
			t.Errorf("slabinfo unreadable (%v) but the row has no note, or a total: %+v", err, r)
		}
		return
	}
	// The kernel's side: each cache named, the server's end at least a
	// socket (TCP) and the total the process's share plus the kernel's.
	if r.TotalBytesPerConn == nil || r.ServerKernelBytesPerConn == nil || r.KernelBytesPerConn == nil {
		t.Fatalf("slabinfo readable, but no kernel figures: %+v", r)
	}
	var tcp *experiment.KernelObjects
	for i, k := range r.Kernel {
		if k.Cache == "TCP" {
			tcp = &r.Kernel[i]
		}
	}
	if tcp == nil || tcp.ObjSize < 1000 || *r.ServerKernelBytesPerConn < float64(tcp.ObjSize) {
		t.Errorf("kernel objects %+v: want a TCP cache of a socket's size, counted in the server's end %v", r.Kernel, *r.ServerKernelBytesPerConn)
	}
	if got, want := *r.TotalBytesPerConn, r.BytesPerConn+*r.ServerKernelBytesPerConn; math.Abs(got-want) > 1e-6 {
		t.Errorf("total %v, want process %v + kernel %v", got, r.BytesPerConn, *r.ServerKernelBytesPerConn)
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
