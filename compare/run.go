package compare

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"slices"
	"time"

	"github.com/readinesslab/readiness/compare/load"
	"github.com/readinesslab/readiness/compare/perf"
	"github.com/readinesslab/readiness/compare/wrk"
	"github.com/readinesslab/readiness/internal/proc"
)

// ErrCellsFailed is returned (wrapped, with the results) when some cells
// could not be measured at all; their rows carry notes saying why.
var ErrCellsFailed = errors.New("some cells were not measured")

// runner holds what every cell of one comparison shares.
type runner struct {
	o       Options
	loops   int
	hz      uint64
	noPerf  string // why perf cannot count here, once known
	threads int    // client threads: one per client CPU
}

// Run pins this process to the client CPUs, then measures every cell of
// the matrix Runs times, models interleaved, each cell against a fresh
// server process. A fresh process per cell costs about 0.15 s (start-up
// and perf attaching) but makes each row stand alone: its RSS, peak RSS
// and threads are that cell's, not left over from a larger cell before
// it. Run returns the rows measured so far with ctx's error when ctx
// ends, and the full results wrapping ErrCellsFailed when some cells
// failed.
func Run(ctx context.Context, o Options) (*Results, error) {
	start := time.Now()
	if err := o.Validate(); err != nil {
		return nil, err
	}
	allowed, err := AllowedCPUs()
	if err != nil {
		return nil, err
	}
	shared, err := o.chooseCPUs(allowed)
	if err != nil {
		return nil, err
	}
	if shared && o.Warn != nil {
		o.Warn(fmt.Sprintf("only CPU %s is available: server and client share it, so each slows the other and CPU figures include the competition", FormatCPUs(allowed)))
	}
	if o.Client == ClientWrk {
		if _, err := exec.LookPath("wrk"); err != nil {
			return nil, wrk.ErrNotInstalled
		}
	}
	if err := pinSelf(o.ClientCPUs); err != nil {
		return nil, fmt.Errorf("pin this process to the client CPUs: %w", err)
	}

	r := &runner{o: o, loops: o.Loops, hz: proc.ClockTicks(), threads: len(o.ClientCPUs)}
	if r.loops == 0 {
		r.loops = len(o.ServerCPUs)
	}
	if o.NoSyscalls {
		r.noPerf = "system calls not counted (perf disabled)"
	}
	res := &Results{Machine: r.machine(start, allowed, shared)}
	err = r.runCells(ctx, res)
	if note := perfNote(res.Rows); note != "" {
		res.Machine.Notes = append(res.Machine.Notes, note)
	}
	return res, err
}

// runCells measures every cell Runs times into res.Rows. It returns ctx's
// error when ctx ends, and an error wrapping ErrCellsFailed when some cells
// failed.
func (r *runner) runCells(ctx context.Context, res *Results) error {
	o := r.o
	cells := o.cells()
	total := len(cells) * o.Runs
	failed := 0
	for run := 1; run <= o.Runs; run++ {
		for _, c := range cells {
			if err := ctx.Err(); err != nil {
				return err
			}
			if o.Progress != nil {
				o.Progress(len(res.Rows), total, fmt.Sprintf("run %d/%d %s", run, o.Runs, c))
			}
			row := r.measure(ctx, c, run)
			if row.failed() {
				failed++
			}
			res.Rows = append(res.Rows, row)
		}
	}
	if o.Progress != nil {
		o.Progress(total, total, "done")
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if failed > 0 {
		return fmt.Errorf("%w: %d of %d", ErrCellsFailed, failed, total)
	}
	return nil
}

// perfNote is the machine note on what counting system calls cost the
// rows: while perf counts, its tracepoint sends every system call down the
// kernel's traced path. It is empty when perf counted in no row, and names
// how many rows paid when it counted in some only.
func perfNote(rows []Row) string {
	measured, counted := 0, 0
	for _, row := range rows {
		if row.failed() {
			continue
		}
		measured++
		if row.Syscalls != nil {
			counted++
		}
	}
	switch {
	case counted == 0:
		return ""
	case counted == measured:
		return "while perf counts system calls the kernel takes its traced path on every system call, adding a little system time to every model alike"
	}
	return fmt.Sprintf("perf counted system calls in %d of %d measured rows; while it counts, the kernel takes its traced path on every system call, adding a little system time to those rows only", counted, measured)
}

// chooseCPUs fills the CPU sets left empty and checks them. It reports
// whether server and client share one CPU.
func (o *Options) chooseCPUs(allowed []int) (shared bool, err error) {
	server, client, shared := SplitCPUs(allowed)
	if len(o.ServerCPUs) == 0 {
		o.ServerCPUs = server
	}
	if len(o.ClientCPUs) == 0 {
		o.ClientCPUs = client
	}
	for _, set := range []struct {
		name string
		cpus []int
	}{{"server", o.ServerCPUs}, {"client", o.ClientCPUs}} {
		for _, c := range set.cpus {
			if !slices.Contains(allowed, c) {
				return false, fmt.Errorf("%s CPU %d is not among the CPUs this process may use (%s)", set.name, c, FormatCPUs(allowed))
			}
		}
	}
	overlap := slices.ContainsFunc(o.ServerCPUs, func(c int) bool { return slices.Contains(o.ClientCPUs, c) })
	if overlap && !shared {
		return false, fmt.Errorf("server CPUs %s and client CPUs %s overlap: give them disjoint sets", FormatCPUs(o.ServerCPUs), FormatCPUs(o.ClientCPUs))
	}
	return overlap, nil
}

func (r *runner) machine(start time.Time, allowed []int, shared bool) Machine {
	m := describeMachine(start)
	m.CPUsAllowed = FormatCPUs(allowed)
	m.ServerCPUs, m.ClientCPUs = FormatCPUs(r.o.ServerCPUs), FormatCPUs(r.o.ClientCPUs)
	m.SharedCPU = shared
	m.Loops = r.loops
	m.Client = r.o.Client
	if r.o.Client == ClientWrk {
		m.ClientVersion = wrkVersion()
		m.Notes = append(m.Notes, fmt.Sprintf("wrk counts time in whole seconds: each window ran %ds and each warmup %ds", wrk.Seconds(r.o.Duration), warmupSeconds(r.o.Warmup)))
	}
	m.Models, m.Conns, m.Pipeline = r.o.Models, r.o.Conns, r.o.Pipeline
	m.DurationS, m.WarmupS, m.Runs = r.o.Duration.Seconds(), r.o.Warmup.Seconds(), r.o.Runs
	m.ClockTicks = r.hz
	m.Notes = append(m.Notes,
		fmt.Sprintf("CPU time comes from /proc/PID/stat in clock ticks of %.0f ms; cpu_ticks in each row says how many the window held", 1000/float64(r.hz)),
		"context switches are summed over /proc/PID/task/*/status (the process's own status file counts its main thread only)")
	if shared {
		m.Notes = append(m.Notes, "server and client shared one CPU")
	}
	return m
}

func warmupSeconds(d time.Duration) int {
	if d <= 0 {
		return 0
	}
	return wrk.Seconds(d)
}

// measure runs one cell against a fresh server and returns its row.
func (r *runner) measure(ctx context.Context, c cell, run int) Row {
	row := Row{Model: c.model, Conns: c.conns, Pipeline: c.pipeline, Run: run, Client: r.o.Client}
	// perf attaches while the server starts: it needs only the process
	// id, and the two together take half the time they take in turn.
	type attached struct {
		pr  *probe
		err error
	}
	probed := make(chan attached, 1)
	began := false
	srv, err := startServer(ctx, r.o.Binary, c.model, r.loops, r.o.ServerCPUs, func(pid int) {
		began = true
		go func() {
			pr, err := newProbe(pid, r.noPerf)
			probed <- attached{pr, err}
		}()
	})
	if err != nil {
		if began {
			if a := <-probed; a.pr != nil {
				a.pr.close()
			}
		}
		row.fail(err)
		return row
	}
	a := <-probed
	pr, perfErr := a.pr, a.err
	pr.memStats = srv.readMemStats
	var u *perf.Unavailable
	if errors.As(perfErr, &u) {
		r.noPerf = u.Reason
	}

	var loadErr error
	switch r.o.Client {
	case ClientWrk:
		loadErr = r.wrk(ctx, srv.Addr, c, pr, &row)
	default:
		loadErr = r.builtin(ctx, srv.Addr, c, pr, &row)
	}

	// perf and the server end together: both take a few tens of
	// milliseconds.
	stopped := make(chan error, 1)
	go func() { stopped <- srv.Stop() }()
	usage, probeErr := pr.finish()
	pr.close()
	stopErr := <-stopped

	switch {
	case loadErr != nil:
		row.fail(loadErr)
	case probeErr != nil:
		row.fail(probeErr)
	default:
		row.fromUsage(usage, r.hz)
	}
	if stopErr != nil {
		row.note("%v", stopErr)
	}
	return row
}

// builtin drives the cell with the built-in load generator, whose window
// edges open and close the probe's.
func (r *runner) builtin(ctx context.Context, addr string, c cell, pr *probe, row *Row) error {
	res, err := load.Run(ctx, load.Config{
		Addr: addr, Conns: c.conns, Pipeline: c.pipeline, Threads: r.threads,
		Duration: r.o.Duration, Warmup: r.o.Warmup,
		OnWindow: func(begin bool) {
			if begin {
				pr.begin()
			} else {
				pr.end()
			}
		},
	})
	if err != nil {
		return err
	}
	row.fromLoad(res)
	return nil
}

// wrk drives the cell with the system's wrk: one run to warm up, then the
// measured run, the window being the measured wrk process's life. wrk
// inherits this process's pinning; its threads are checked and pinned
// again as it starts.
func (r *runner) wrk(ctx context.Context, addr string, c cell, pr *probe, row *Row) error {
	cfg := wrk.Config{Addr: addr, Conns: c.conns, Threads: r.threads, Pipeline: c.pipeline}
	if r.o.Warmup > 0 {
		cfg.Duration = r.o.Warmup
		if _, err := wrk.Run(ctx, cfg); err != nil {
			return fmt.Errorf("warmup: %w", err)
		}
	}
	cfg.Duration = r.o.Duration
	var pinErr error
	cfg.OnStart = func(pid int) {
		pinErr = pinProcess(pid, r.o.ClientCPUs)
		pr.begin()
	}
	res, err := wrk.Run(ctx, cfg)
	pr.end()
	if err != nil {
		return err
	}
	if pinErr != nil {
		row.note("wrk's threads could not all be checked on the client CPUs: %v", pinErr)
	}
	row.fromWrk(res)
	return nil
}
