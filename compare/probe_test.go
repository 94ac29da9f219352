package compare

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/readinesslab/readiness/compare/perf"
	"github.com/readinesslab/readiness/compare/wrk"
	"github.com/readinesslab/readiness/internal/proc"
)

// With perf missing from PATH, the probe still measures /proc, leaves the
// system calls null and says why in a note that reaches the row.
func TestProbeWithoutPerf(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	pr, err := newProbe(os.Getpid(), "")
	var u *perf.Unavailable
	if !errors.As(err, &u) || !strings.Contains(u.Reason, "not installed") {
		t.Fatalf("newProbe: %v, want perf unavailable", err)
	}
	calls := 0
	pr.memStats = func() (MemStats, error) {
		calls++
		return MemStats{Mallocs: uint64(100 * calls), NumGC: uint64(calls)}, nil
	}
	pr.begin()
	for deadline := time.Now().Add(50 * time.Millisecond); time.Now().Before(deadline); {
	}
	pr.end()
	usage, err := pr.finish()
	pr.close()
	if err != nil {
		t.Fatal(err)
	}
	if usage.Syscalls != nil || usage.Elapsed < 50*time.Millisecond || usage.Threads < 1 || usage.RSS == 0 {
		t.Errorf("usage %+v", usage)
	}
	if usage.Heap == nil || usage.Heap.Mallocs != 100 || usage.Heap.NumGC != 1 {
		t.Errorf("heap %+v", usage.Heap)
	}
	row := Row{Requests: 1000}
	row.fromUsage(usage, proc.ClockTicks())
	if row.SyscallsPerReq != nil || row.Syscalls != nil || row.CPUusPerReq == nil || row.AllocsPerReq == nil || *row.AllocsPerReq != 0.1 || *row.GCCount != 1 {
		t.Errorf("row %+v", row)
	}
	if !strings.Contains(strings.Join(row.Notes, "\n"), "syscalls_per_req is null: perf is not installed") {
		t.Errorf("notes %q", row.Notes)
	}
}

// Perf known not to work is not tried again; a server that does not
// answer SIGUSR1 leaves the heap figures null with a note.
func TestProbeKnownUnavailable(t *testing.T) {
	pr, err := newProbe(os.Getpid(), "perf refused: perf_event_paranoid is 4")
	if err != nil || pr.ctr != nil {
		t.Fatalf("newProbe: %v, counter %v", err, pr.ctr)
	}
	pr.memStats = func() (MemStats, error) { return MemStats{}, errors.New("no memstats line") }
	pr.begin()
	pr.end()
	usage, err := pr.finish()
	if err != nil {
		t.Fatal(err)
	}
	row := Row{Requests: 10}
	row.fromUsage(usage, 100)
	notes := strings.Join(row.Notes, "\n")
	if row.SyscallsPerReq != nil || row.AllocsPerReq != nil || row.GCCount != nil ||
		!strings.Contains(notes, "perf_event_paranoid is 4") || !strings.Contains(notes, "gc_count are null: no memstats line") {
		t.Errorf("row %+v", row)
	}
}

// A window that never began is an error, not a row of zeros.
func TestProbeNoWindow(t *testing.T) {
	pr, _ := newProbe(os.Getpid(), "off")
	if _, err := pr.finish(); err == nil {
		t.Error("finish without a window succeeded")
	}
}

// A wrk percentile below wrk's own median (its table prints 0.00us when
// its count runs past its samples) is null with a note, not a zero.
func TestFromWrkDropsImpossiblePercentiles(t *testing.T) {
	var r Row
	r.fromWrk(&wrk.Result{Requests: 1000, RPS: 1000, P50: 100 * time.Microsecond, P90: 300 * time.Microsecond, Max: 40 * time.Millisecond, HasP999: true})
	if r.P50us == nil || *r.P50us != 100 || r.P90us == nil || *r.P90us != 300 || r.P99us != nil || r.P999us != nil || *r.MaxUs != 40000 {
		t.Fatalf("row %+v", r)
	}
	notes := strings.Join(r.Notes, "\n")
	if !strings.Contains(notes, "p99_us is null: wrk reported 0s, below its own p50 of 100µs") || !strings.Contains(notes, "p999_us is null") {
		t.Errorf("notes %q", r.Notes)
	}
}
