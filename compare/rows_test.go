package compare

import (
	"os"
	"strings"
	"testing"
	"time"
)

// syntheticRows is a full matrix of plausible rows: three models, four
// connection counts, pipeline 1 and 16, three runs, with figures that
// differ by model, so charts and summaries have something to show.
func syntheticRows() []Row {
	models := []string{"epoll", "gnet", "std"}
	var rows []Row
	for run := 1; run <= 3; run++ {
		for _, c := range []int{1, 10, 100, 1000} {
			for _, p := range []int{1, 16} {
				for mi, m := range models {
					f := 1 + 0.15*float64(mi) + 0.02*float64(run-2)
					rps := 60000.0 * float64(p) / (f * (1 + 3/float64(c)))
					if p > 1 {
						rps = rps / 8
					}
					lat := 1e6 * float64(c*p) / rps
					r := Row{Model: m, Conns: c, Pipeline: p, Run: run, Client: ClientBuiltin, Mode: ModeClosed, Net: NetLo,
						Requests: int64(rps * 0.7), RPS: ptr(rps),
						P50us: ptr(lat), P90us: ptr(lat * 1.3), P99us: ptr(lat * 2), P999us: ptr(lat * 3.5), MaxUs: ptr(lat * 6),
						UserUsPerReq: ptr(2 * f / float64(p)), SysUsPerReq: ptr(9 * f / float64(p)),
						SyscallsPerReq: ptr(2.1 * f), CtxswPerReq: ptr(0.01 * f),
						RSSBytes: ptr(int64(8<<20 + c*4096*mi)), PeakRSSBytes: ptr(int64(9<<20 + c*4096*mi)), Threads: ptr(5 + mi),
						Notes: []string{}}
					r.CPUusPerReq = ptr(*r.UserUsPerReq + *r.SysUsPerReq)
					rows = append(rows, r)
				}
			}
		}
	}
	return rows
}

// sweepCapacity is each synthetic model's capacity at 100 connections,
// pipeline 1, and sweepRates the rates the synthetic sweep offers.
var (
	sweepCapacity = map[string]float64{"epoll": 50000, "gnet": 40000, "std": 30000}
	sweepRates    = []float64{1000, 2000, 5000, 10000, 20000, 35000, 45000, 60000}
)

// syntheticSweep is an open-loop sweep of the three models at 100
// connections, pipeline 1, three runs: each model keeps up until its
// capacity and answers no faster after; its p99 stays at 200µs up to
// 80% of its capacity, then climbs; CPU per request falls as load rises.
func syntheticSweep() []Row {
	var rows []Row
	for run := 1; run <= 3; run++ {
		for _, rate := range sweepRates {
			for _, m := range []string{"epoll", "gnet", "std"} {
				c := sweepCapacity[m]
				achieved := min(rate, c) * (1 + 0.005*float64(run-2))
				p99 := 200.0
				if rate > 0.8*c {
					p99 *= 1 + 50*(rate-0.8*c)/c
				}
				cpu := 10 + 90*1000/rate
				r := Row{Model: m, Conns: 100, Pipeline: 1, Run: run, Client: ClientBuiltin, Mode: ModeOpen, Net: NetLo,
					OfferedRPS: ptr(rate), Requests: int64(achieved / 2), RPS: ptr(achieved),
					P50us: ptr(p99 / 3), P90us: ptr(p99 / 2), P99us: ptr(p99), P999us: ptr(p99 * 2), MaxUs: ptr(p99 * 3),
					P50ServiceUs: ptr(p99 / 4), P90ServiceUs: ptr(p99 / 3), P99ServiceUs: ptr(p99 / 2), P999ServiceUs: ptr(p99), MaxServiceUs: ptr(p99 * 2),
					CPUusPerReq: ptr(cpu), UserUsPerReq: ptr(cpu / 4), SysUsPerReq: ptr(cpu * 3 / 4),
					ServerCPUUtil: ptr(min(rate, c) / c), ClientCPUUtil: ptr(rate / 200000), SendLagP99us: ptr(50.0),
					Notes: []string{}}
				rows = append(rows, r)
			}
		}
	}
	return rows
}

// contractFields are the fields CONTRACT.md requires in every row of
// results.json, one per line in testdata.
func contractFields(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("testdata/contract_fields.txt")
	if err != nil {
		t.Fatal(err)
	}
	return strings.Fields(string(b))
}

// With schedstat's count, CPU per request is that count, split into user
// and system in the ticks' proportion; with no tick to split by, the
// split is null with a note.
func TestFromUsageSched(t *testing.T) {
	r := Row{Requests: 1000}
	r.fromUsage(Usage{Elapsed: time.Second, UserTicks: 1, SystemTicks: 3, Sched: &sched{onCPU: 50 * time.Millisecond}}, 100)
	if *r.CPUusPerReq != 50 || *r.UserUsPerReq != 12.5 || *r.SysUsPerReq != 37.5 {
		t.Errorf("cpu %v user %v sys %v, want 50, 12.5 and 37.5 µs", *r.CPUusPerReq, *r.UserUsPerReq, *r.SysUsPerReq)
	}
	if !strings.Contains(strings.Join(r.Notes, ";"), "the total is schedstat's") {
		t.Errorf("notes %q", r.Notes)
	}
	r = Row{Requests: 1000}
	r.fromUsage(Usage{Elapsed: time.Second, Sched: &sched{onCPU: 5 * time.Millisecond}}, 100)
	if *r.CPUusPerReq != 5 || r.UserUsPerReq != nil || r.SysUsPerReq != nil {
		t.Errorf("no tick: cpu %v user %v sys %v", *r.CPUusPerReq, r.UserUsPerReq, r.SysUsPerReq)
	}
	// Without schedstat the ticks alone give the figures.
	r = Row{Requests: 1000}
	r.fromUsage(Usage{Elapsed: time.Second, UserTicks: 1, SystemTicks: 3}, 100)
	if *r.CPUusPerReq != 40 || *r.UserUsPerReq != 10 {
		t.Errorf("ticks only: cpu %v user %v", *r.CPUusPerReq, *r.UserUsPerReq)
	}
}

// This process's own schedstat counts the time its threads ran, as
// getrusage does.
func TestReadSched(t *testing.T) {
	c := schedClock{pid: os.Getpid()}
	c.begin()
	start, err := selfCPU()
	if err != nil {
		t.Fatal(err)
	}
	// Burn 30 ms of CPU by getrusage's count, however long that takes on
	// a busy machine (at most 10 s).
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		if now, _ := selfCPU(); now-start >= 30*time.Millisecond {
			break
		}
	}
	used, _ := selfCPU()
	got, err := c.since()
	if err != nil {
		t.Fatal(err)
	}
	if got.onCPU < (used-start)*3/4 {
		t.Errorf("getrusage counted %v of CPU, schedstat %v", used-start, got.onCPU)
	}
	if _, err := readSched(-1); err == nil {
		t.Error("no error for a process that does not exist")
	}
}
