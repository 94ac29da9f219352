package compare

import (
	"errors"
	"fmt"
	"time"

	"github.com/readinesslab/readiness/compare/perf"
	"github.com/readinesslab/readiness/internal/proc"
)

// Usage is what the server process used over one measured window.
type Usage struct {
	Elapsed                time.Duration
	UserTicks, SystemTicks uint64  // clock ticks of CPU time
	Voluntary, Involuntary uint64  // context switches
	Syscalls               *uint64 // nil when perf could not count; Notes says why
	RSS, PeakRSS           uint64  // bytes at the window's end
	Threads                int     // at the window's end
	// The Go heap's allocations over the window, from the server's
	// answers to SIGUSR1; nil when it did not answer, and Notes says why.
	Heap *MemStats
	// GOMAXPROCS is the server's, from its answer at the window's end; 0
	// when unknown.
	GOMAXPROCS int
	// Sched is how long the server's threads ran and waited for a CPU
	// over the window, from schedstat; nil when it could not be read.
	Sched *sched
	Notes []string
}

// probe measures one server process from outside over a window: /proc
// at both edges, and perf counting system calls only in between.
type probe struct {
	pid    int
	ctr    *perf.Counter
	before proc.Sample
	begun  time.Time
	usage  Usage
	err    error
	sched  schedClock

	// memStats, if set, asks the server for its heap counts.
	memStats   func() (MemStats, error)
	heapBefore MemStats
	heapErr    error
}

// newProbe attaches perf to pid, before any load runs so that perf's own
// start-up does not compete with it. unavailable, when not empty, is why
// perf is known not to work here: the system calls are left uncounted
// with that note, without trying again.
func newProbe(pid int, unavailable string) (p *probe, perfErr error) {
	p = &probe{pid: pid}
	if unavailable != "" {
		p.usage.Notes = append(p.usage.Notes, "syscalls_per_req is null: "+unavailable)
		return p, nil
	}
	c, err := perf.Start(pid)
	if err != nil {
		p.usage.Notes = append(p.usage.Notes, syscallNote(err))
		return p, err
	}
	p.ctr = c
	return p, nil
}

// begin opens the window. It is called from the load generator's
// OnWindow, so it stays short: a /proc read, one message to perf and one
// signal to the server. end takes the same steps in the same order, so
// each reading covers a span as long as the window.
func (p *probe) begin() {
	p.before, p.err = proc.Read(p.pid)
	p.sched = schedClock{pid: p.pid}
	p.sched.begin()
	p.begun = time.Now()
	if p.ctr != nil {
		if err := p.ctr.Enable(); err != nil {
			p.dropPerf(err)
		}
	}
	if p.memStats != nil {
		p.heapBefore, p.heapErr = p.memStats()
	}
}

// end closes the window.
func (p *probe) end() {
	if p.begun.IsZero() {
		return
	}
	p.usage.Elapsed = time.Since(p.begun)
	after, err := proc.Read(p.pid)
	if sc, serr := p.sched.since(); serr != nil {
		p.usage.Notes = append(p.usage.Notes, "server_wait is null, and CPU time comes from clock ticks only: schedstat: "+serr.Error())
	} else {
		p.usage.Sched = &sc
	}
	if p.ctr != nil {
		if err := p.ctr.Disable(); err != nil {
			p.dropPerf(err)
		}
	}
	p.endHeap()
	switch {
	case p.err != nil:
		p.err = fmt.Errorf("read the server at the window's start: %w", p.err)
		return
	case err != nil:
		p.err = fmt.Errorf("read the server at the window's end: %w", err)
		return
	}
	u := &p.usage
	u.UserTicks = after.UserTicks - p.before.UserTicks
	u.SystemTicks = after.SystemTicks - p.before.SystemTicks
	u.RSS, u.PeakRSS, u.Threads = after.RSS, after.PeakRSS, after.Threads
	if after.Voluntary < p.before.Voluntary || after.Involuntary < p.before.Involuntary {
		// A thread that exits takes its counts out of the sum over
		// /proc/PID/task, which makes the difference meaningless.
		p.err = fmt.Errorf("context switches fell from %d to %d over the window: a thread exited", p.before.Voluntary+p.before.Involuntary, after.Voluntary+after.Involuntary)
		return
	}
	u.Voluntary = after.Voluntary - p.before.Voluntary
	u.Involuntary = after.Involuntary - p.before.Involuntary
}

// endHeap takes the server's heap counts at the window's end.
func (p *probe) endHeap() {
	const null = "allocs_per_req, alloc_bytes_per_req and gc_count are null: "
	switch {
	case p.memStats == nil:
		return
	case p.heapErr != nil:
		p.usage.Notes = append(p.usage.Notes, null+p.heapErr.Error())
		return
	}
	after, err := p.memStats()
	if err != nil {
		p.usage.Notes = append(p.usage.Notes, null+err.Error())
		return
	}
	b := p.heapBefore
	p.usage.GOMAXPROCS = int(after.GOMAXPROCS)
	p.usage.Heap = &MemStats{
		Mallocs:    after.Mallocs - b.Mallocs,
		Frees:      after.Frees - b.Frees,
		TotalAlloc: after.TotalAlloc - b.TotalAlloc,
		NumGC:      after.NumGC - b.NumGC,
	}
}

// finish ends perf and returns what the server used in the window.
func (p *probe) finish() (Usage, error) {
	if p.ctr != nil {
		if n, err := p.ctr.Stop(); err != nil {
			p.usage.Notes = append(p.usage.Notes, "syscalls_per_req is null: "+err.Error())
		} else {
			p.usage.Syscalls = &n
		}
		p.ctr = nil
	}
	if p.begun.IsZero() && p.err == nil {
		p.err = errors.New("the measured window never began")
	}
	return p.usage, p.err
}

// close releases perf when the window did not complete.
func (p *probe) close() {
	if p.ctr != nil {
		p.ctr.Close()
		p.ctr = nil
	}
}

func (p *probe) dropPerf(err error) {
	p.usage.Notes = append(p.usage.Notes, "syscalls_per_req is null: "+err.Error())
	p.ctr.Close()
	p.ctr = nil
}

func syscallNote(err error) string {
	var u *perf.Unavailable
	if errors.As(err, &u) {
		return "syscalls_per_req is null: " + u.Reason
	}
	return "syscalls_per_req is null: perf failed: " + err.Error()
}
