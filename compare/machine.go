package compare

import (
	"fmt"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/readinesslab/readiness/compare/wrk"
	"github.com/readinesslab/readiness/internal/host"
)

// Machine describes where and how the figures were taken.
type Machine struct {
	CPUs        int     `json:"cpus"`         // logical CPUs online
	CPUsAllowed string  `json:"cpus_allowed"` // the CPUs compare could use
	CPUModel    string  `json:"cpu_model"`
	Kernel      string  `json:"kernel"`
	OS          string  `json:"os"`
	Arch        string  `json:"arch"`
	GoVersion   string  `json:"go_version"`
	GnetVersion *string `json:"gnet_version"` // null when this binary does not link gnet
	Date        string  `json:"date"`         // start of the run, RFC 3339, UTC

	ServerCPUs string `json:"server_cpus"`
	ClientCPUs string `json:"client_cpus"`
	SharedCPU  bool   `json:"shared_cpu"` // server and client on the same CPU
	Loops      int    `json:"loops"`
	Net        string `json:"net"` // lo or veth

	Client        string   `json:"client"`
	ClientVersion *string  `json:"client_version"` // wrk's version line; null for the built-in client
	Models        []string `json:"models"`
	Conns         []int    `json:"conns"`
	Pipeline      []int    `json:"pipeline"`
	DurationS     float64  `json:"duration_s"` // measured window per cell
	WarmupS       float64  `json:"warmup_s"`
	Runs          int      `json:"runs"`
	// Rates are the offered rates of each swept cell, by "CONNSxPIPELINE";
	// RatesAuto says they were drawn from the closed-loop capacities.
	Rates     map[string][]float64 `json:"rates"`
	RatesAuto bool                 `json:"rates_auto"`

	ClockTicks   uint64   `json:"clock_ticks_per_s"` // the unit of /proc's CPU times
	PerfVersion  *string  `json:"perf_version"`      // null when perf is missing
	ServerPerRow bool     `json:"fresh_server_per_row"`
	Notes        []string `json:"notes"`
}

// describeMachine fills what can be read from the system.
func describeMachine(start time.Time) Machine {
	here := host.ThisMachine()
	m := Machine{
		CPUs:         here.CPUs,
		CPUModel:     here.CPUModel,
		Kernel:       here.Kernel,
		OS:           runtime.GOOS,
		Arch:         runtime.GOARCH,
		GoVersion:    here.Go,
		GnetVersion:  dependency("github.com/panjf2000/gnet/v2"),
		Net:          NetLo,
		Date:         start.UTC().Format(time.RFC3339),
		ServerPerRow: true,
	}
	if out, err := exec.Command("perf", "version").Output(); err == nil {
		m.PerfVersion = ptr(strings.TrimSpace(string(out)))
	}
	return m
}

// dependency is the version of module path linked into this binary, nil
// when it is not linked.
func dependency(path string) *string {
	if v := host.Dependency(path); v != "" {
		return &v
	}
	return nil
}

// wrkVersion is the first line of `wrk -v`.
func wrkVersion() *string {
	out, _ := exec.Command("wrk", "-v").CombinedOutput()
	line, _, _ := strings.Cut(string(out), "\n")
	if line = strings.TrimSpace(line); line == "" {
		return nil
	}
	return ptr(line)
}

// finish fills what is known only once the rows are in: the environment's
// run-time part, the rates swept, the knees and the ratios.
func (r *runner) finish(res *Results) {
	e := &res.Environment
	e.ServerCPUs, e.ClientCPUs = FormatCPUs(r.o.ServerCPUs), FormatCPUs(r.o.ClientCPUs)
	e.ClientGOMAXPROCS = runtime.GOMAXPROCS(0)
	e.ServerGOMAXPROCS = map[string]int{}
	for _, row := range res.Rows {
		if row.gomaxprocs > 0 {
			e.ServerGOMAXPROCS[row.Model] = row.gomaxprocs
		}
		if row.Syscalls != nil {
			e.PerfCounted = true
		}
		if row.OfferedRPS != nil {
			k := fmt.Sprintf("%dx%d", row.Conns, row.Pipeline)
			if !slices.Contains(res.Machine.Rates[k], *row.OfferedRPS) {
				res.Machine.Rates[k] = append(res.Machine.Rates[k], *row.OfferedRPS)
			}
		}
	}
	res.Knees = Knees(Summarize(res.Rows))
	res.Ratios = Ratios(res.Rows)
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

func (r *runner) machine(start time.Time, allowed []int, shared bool) Machine {
	m := describeMachine(start)
	m.CPUsAllowed = FormatCPUs(allowed)
	m.ServerCPUs, m.ClientCPUs = FormatCPUs(r.o.ServerCPUs), FormatCPUs(r.o.ClientCPUs)
	m.SharedCPU = shared
	m.Loops = r.loops
	m.Net = r.net()
	m.Rates, m.RatesAuto = map[string][]float64{}, r.o.AutoRates
	m.Client = r.o.Client
	if r.o.Client == ClientWrk {
		m.ClientVersion = wrkVersion()
		m.Notes = append(m.Notes, fmt.Sprintf("wrk counts time in whole seconds: each window ran %ds and each warmup %ds", wrk.Seconds(r.o.Duration), warmupSeconds(r.o.Warmup)))
	}
	m.Models, m.Conns, m.Pipeline = r.o.Models, r.o.Conns, r.o.Pipeline
	m.DurationS, m.WarmupS, m.Runs = r.o.Duration.Seconds(), r.o.Warmup.Seconds(), r.o.Runs
	m.ClockTicks = r.hz
	m.Notes = append(m.Notes,
		fmt.Sprintf("CPU time per request is the scheduler's count of the server's threads' time on a CPU (/proc/PID/task/*/schedstat, in nanoseconds), split into user and system in the proportion of /proc/PID/stat's clock ticks of %.0f ms; cpu_ticks in each row says how many ticks the window held", 1000/float64(r.hz)),
		"context switches are summed over /proc/PID/task/*/status (the process's own status file counts its main thread only)")
	if shared {
		m.Notes = append(m.Notes, "server and client shared one CPU")
	}
	return m
}
