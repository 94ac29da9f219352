package compare

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"time"

	"github.com/readinesslab/readiness/compare/load"
	"github.com/readinesslab/readiness/compare/perf"
	"github.com/readinesslab/readiness/compare/wrk"
	"github.com/readinesslab/readiness/internal/host"
	"github.com/readinesslab/readiness/internal/netns"
	"github.com/readinesslab/readiness/internal/proc"
)

// ErrCellsFailed is returned (wrapped, with the results) when some cells
// could not be measured at all; their rows carry notes saying why.
var ErrCellsFailed = errors.New("some cells were not measured")

// runner holds what every cell of one comparison shares.
type runner struct {
	o       Options
	pair    *netns.Pair // with -net veth: the servers' and the client's namespaces
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
	if o.Net == NetVeth {
		if err := netns.Check(); err != nil {
			return nil, fmt.Errorf("-net veth: %w", err)
		}
		if r.pair, err = netns.Create(); err != nil {
			return nil, fmt.Errorf("-net veth: %w", err)
		}
		// Every return from here on passes this, ctx's end on SIGINT or
		// SIGTERM included.
		defer func() {
			if err := r.pair.Remove(); err != nil && o.Warn != nil {
				o.Warn(fmt.Sprintf("remove the network namespaces %s and %s: %v", r.pair.Server.Name, r.pair.Client.Name, err))
			}
		}()
	}
	if r.loops == 0 {
		r.loops = len(o.ServerCPUs)
	}
	if o.NoSyscalls {
		r.noPerf = "system calls not counted (perf disabled)"
	}
	res := &Results{Machine: r.machine(start, allowed, shared), Environment: host.ReadEnvironment()}
	err = r.runCells(ctx, res)
	if note := perfNote(res.Rows); note != "" {
		res.Machine.Notes = append(res.Machine.Notes, note)
	}
	r.finish(res)
	return res, err
}

// runCells measures every cell Runs times into res.Rows: in each run the
// closed-loop cells, then the open-loop ones. It returns ctx's error when
// ctx ends, and an error wrapping ErrCellsFailed when some cells failed.
func (r *runner) runCells(ctx context.Context, res *Results) error {
	o := r.o
	total := o.CellsPerRun() * o.Runs
	failed := 0
	one := func(c cell, run int) error {
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
		return nil
	}
	rates := map[shape][]float64{}
	for run := 1; run <= o.Runs; run++ {
		for _, sh := range o.closedShapes() {
			for _, m := range o.Models {
				if err := one(cell{model: m, shape: sh}, run); err != nil {
					return err
				}
			}
		}
		for _, sh := range o.sweepShapes() {
			if _, ok := rates[sh]; !ok {
				rates[sh] = r.ratesFor(sh, res.Rows)
			}
			for _, rate := range rates[sh] {
				for _, m := range o.Models {
					if err := one(cell{model: m, shape: sh, offered: rate}, run); err != nil {
						return err
					}
				}
			}
		}
	}
	if o.Progress != nil {
		o.Progress(total, total, "done")
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if failed > 0 {
		return fmt.Errorf("%w: %d of %d", ErrCellsFailed, failed, len(res.Rows))
	}
	return nil
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

// serverNS is where a server runs: nil on loopback, else the server's
// namespace.
func (r *runner) serverNS() *netns.NS {
	if r.pair == nil {
		return nil
	}
	return &r.pair.Server
}

// net is the network the servers are reached over.
func (r *runner) net() string {
	if r.o.Net == "" {
		return NetLo
	}
	return r.o.Net
}

func warmupSeconds(d time.Duration) int {
	if d <= 0 {
		return 0
	}
	return wrk.Seconds(d)
}

// measure runs one cell against a fresh server and returns its row.
func (r *runner) measure(ctx context.Context, c cell, run int) Row {
	row := Row{Model: c.model, Conns: c.conns, Pipeline: c.pipeline, Run: run, Client: r.o.Client, Net: r.net(), Mode: ModeClosed}
	if c.offered > 0 {
		row.Mode, row.OfferedRPS = ModeOpen, ptr(c.offered)
	}
	// perf attaches while the server starts: it needs only the process
	// id, and the two together take half the time they take in turn.
	type attached struct {
		pr  *probe
		err error
	}
	probed := make(chan attached, 1)
	began := false
	srv, err := startServer(ctx, r.o.Binary, c.model, r.loops, r.o.ServerCPUs, r.serverNS(), func(pid int) {
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
	row.Server = srv.Line
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
		tick := time.Second / time.Duration(r.hz)
		cpu := time.Duration(usage.UserTicks+usage.SystemTicks) * tick
		span := usage.Elapsed
		if usage.Sched != nil {
			cpu, span = usage.Sched.onCPU, usage.Sched.span
			row.ServerWait = utilization(usage.Sched.waited, span, len(r.o.ServerCPUs))
		}
		row.ServerCPUUtil = utilization(cpu, span, len(r.o.ServerCPUs))
		row.judgeClient()
	}
	if stopErr != nil {
		row.note("%v", stopErr)
	}
	return row
}

// builtin drives the cell with the built-in load generator, whose window
// edges open and close the probe's.
func (r *runner) builtin(ctx context.Context, addr string, c cell, pr *probe, row *Row) error {
	var cpu0, cpu1 time.Duration
	var cpuSpan time.Duration
	var cpuErr error
	wait := schedClock{pid: os.Getpid()}
	var waited sched
	var waitErr error
	cfg := load.Config{
		Addr: addr, Conns: c.conns, Pipeline: c.pipeline, Threads: r.threads,
		Duration: r.o.Duration, Warmup: r.o.Warmup, Rate: c.offered,
		OnWindow: func(begin bool) {
			if begin {
				row.began = time.Now() // just before cpu0's reading
				cpu0, cpuErr = selfCPU()
				wait.begin()
				pr.begin()
			} else {
				pr.end()
				waited, waitErr = wait.since()
				var err error
				if cpu1, err = selfCPU(); cpuErr == nil {
					cpuErr = err
				}
				cpuSpan = time.Since(row.began)
			}
		},
	}
	if r.pair != nil {
		// The loops' sockets are made inside the client's namespace and
		// reach the server's address over the veth pair.
		cfg.Target, cfg.Enter = r.pair.Server.Addr, r.pair.Client.Do
	}
	res, err := load.Run(ctx, cfg)
	if err != nil {
		return err
	}
	row.fromLoad(res)
	if cpuErr != nil {
		row.note("client_cpu_util is null: getrusage: %v", cpuErr)
	} else {
		row.ClientCPUUtil = utilization(cpu1-cpu0, cpuSpan, len(r.o.ClientCPUs))
	}
	if waitErr != nil {
		row.note("client_wait is null: schedstat: %v", waitErr)
	} else {
		row.ClientWait = utilization(waited.waited, waited.span, len(r.o.ClientCPUs))
	}
	return nil
}

// wrk drives the cell with the system's wrk: one run to warm up, then the
// measured run, the window being the measured wrk process's life. wrk
// inherits this process's pinning; its threads are checked and pinned
// again as it starts.
func (r *runner) wrk(ctx context.Context, addr string, c cell, pr *probe, row *Row) error {
	cfg := wrk.Config{Addr: addr, Conns: c.conns, Threads: r.threads, Pipeline: c.pipeline}
	if r.pair != nil {
		cfg.Prefix = r.pair.Client.Prefix()
	}
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
		row.began = time.Now()
		pr.begin()
	}
	res, err := wrk.Run(ctx, cfg)
	pr.end()
	if err != nil {
		return err
	}
	row.ClientCPUUtil = utilization(res.CPU, time.Since(row.began), len(r.o.ClientCPUs))
	row.note("client_wait is null: wrk's threads are gone before its figures are read")
	if pinErr != nil {
		row.note("wrk's threads could not all be checked on the client CPUs: %v", pinErr)
	}
	row.fromWrk(res)
	return nil
}
