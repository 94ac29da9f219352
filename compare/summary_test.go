package compare

import (
	"errors"
	"math"
	"testing"
)

func TestStat(t *testing.T) {
	for _, tc := range []struct {
		in               []float64
		med, lo, hi, spr float64
	}{
		{[]float64{5}, 5, 5, 5, 0},
		{[]float64{3, 1, 2}, 2, 1, 3, 0.5},
		{[]float64{10, 40, 20, 30}, 25, 10, 40, 0.6},
		{[]float64{100, 90, 110, 100, 100}, 100, 90, 110, 0.1},
	} {
		s := stat(tc.in)
		if s.N != len(tc.in) || s.Median != tc.med || s.Min != tc.lo || s.Max != tc.hi || math.Abs(s.Spread()-tc.spr) > 1e-12 {
			t.Errorf("stat(%v) = %+v spread %v; want median %v range %v..%v spread %v", tc.in, s, s.Spread(), tc.med, tc.lo, tc.hi, tc.spr)
		}
	}
	if s := stat(nil); s.N != 0 || s.Spread() != 0 {
		t.Errorf("stat(nil) = %+v", s)
	}
}

func TestSummarize(t *testing.T) {
	row := func(model string, conns, run int, rps, cpu float64) Row {
		return Row{Model: model, Conns: conns, Pipeline: 1, Run: run, Requests: int64(rps), RPS: ptr(rps), CPUusPerReq: ptr(cpu), Threads: ptr(4)}
	}
	failed := Row{Model: "gnet", Conns: 10, Pipeline: 1, Run: 3, Errors: 7}
	failed.fail(errors.New("server did not start"))
	rows := []Row{
		row("epoll", 10, 1, 100, 5), row("gnet", 10, 1, 80, 7), row("epoll", 1, 1, 10, 9),
		row("epoll", 10, 2, 120, 4), row("gnet", 10, 2, 90, 6), row("epoll", 1, 2, 12, 8),
		row("epoll", 10, 3, 110, 6), failed, row("epoll", 1, 3, 11, 10),
	}
	rows[1].Errors = 2
	sums := Summarize(rows)
	want := []struct {
		model  string
		conns  int
		rps    Stat
		cpu    Stat
		errors int64
		failed int
	}{
		{"epoll", 10, Stat{110, 100, 120, 3}, Stat{5, 4, 6, 3}, 0, 0},
		{"gnet", 10, Stat{85, 80, 90, 2}, Stat{6.5, 6, 7, 2}, 9, 1},
		{"epoll", 1, Stat{11, 10, 12, 3}, Stat{9, 8, 10, 3}, 0, 0},
	}
	if len(sums) != len(want) {
		t.Fatalf("%d summaries, want %d: %+v", len(sums), len(want), sums)
	}
	for i, w := range want {
		s := sums[i]
		if s.Model != w.model || s.Conns != w.conns || s.RPS != w.rps || s.CPUus != w.cpu || s.Errors != w.errors || s.Failed != w.failed || s.Runs != 3 {
			t.Errorf("summary %d = %+v; want %+v", i, s, w)
		}
		if s.Syscalls.N != 0 {
			t.Errorf("summary %d: syscalls %+v, want unknown", i, s.Syscalls)
		}
		if s.Threads.Median != 4 {
			t.Errorf("summary %d: threads %+v", i, s.Threads)
		}
	}
}

// A full synthetic matrix sorts by pipeline, then connections, then model.
func TestSummarizeOrder(t *testing.T) {
	sums := Summarize(syntheticRows())
	if len(sums) != 3*4*2 {
		t.Fatalf("%d summaries", len(sums))
	}
	for i := 1; i < len(sums); i++ {
		a, b := sums[i-1], sums[i]
		if a.Pipeline > b.Pipeline || a.Pipeline == b.Pipeline && a.Conns > b.Conns {
			t.Fatalf("summary %d (%s %d %d) before %d (%s %d %d)", i-1, a.Model, a.Conns, a.Pipeline, i, b.Model, b.Conns, b.Pipeline)
		}
	}
	if sums[0].Model != "epoll" || sums[1].Model != "gnet" || sums[2].Model != "std" {
		t.Errorf("models out of order: %s %s %s", sums[0].Model, sums[1].Model, sums[2].Model)
	}
}
