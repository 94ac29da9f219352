package compare

import (
	"os/exec"
	"runtime"
	"strings"
	"time"

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
