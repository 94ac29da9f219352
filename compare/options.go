// Package compare measures the lab's servers side by side: each model runs
// as its own child process pinned to the server CPUs, a load generator
// pinned to the other CPUs drives the same matrix of connections and
// pipeline depths against each, and the server process is measured from
// outside (/proc and perf) over exactly the measured window. It writes the
// figures as a table, JSON, CSV, Markdown, SVG charts and Go benchmark
// lines.
package compare

import (
	"errors"
	"fmt"
	"slices"
	"time"
)

// Options is one comparison. Zero fields take the defaults of Default.
type Options struct {
	Models   []string      // model names, passed to `Binary serve MODEL`
	Conns    []int         // concurrent connections per cell
	Pipeline []int         // requests in flight per connection
	Duration time.Duration // measured window per cell
	Warmup   time.Duration // load before each window, not measured
	Runs     int           // interleaved repetitions of the whole matrix

	Client string // ClientBuiltin or ClientWrk

	// ServerCPUs and ClientCPUs must not overlap unless only one CPU is
	// available. Empty: chosen by SplitCPUs from the CPUs this process
	// may use.
	ServerCPUs, ClientCPUs []int
	// Loops is passed to each server as -loops; 0 means one per server CPU.
	Loops int

	// Binary is the readiness executable started as each server.
	Binary string

	// NoSyscalls leaves system calls uncounted (with a note) instead of
	// running perf.
	NoSyscalls bool

	// Progress, if set, is called before each cell with how many cells are
	// done, how many there are, and the cell about to run.
	Progress func(done, total int, cell string)
	// Warn, if set, receives warnings meant for the user (one line each).
	Warn func(msg string)
}

// The clients.
const (
	ClientBuiltin = "builtin"
	ClientWrk     = "wrk"
)

// Default is the default comparison: every model, 1 to 1000 connections,
// pipeline 1 and 16, three interleaved runs. 3 models x 8 cells x 3 runs
// x (0.6 s + 0.2 s) is 58 s of load; starting a server, attaching perf
// and stopping the server add about 0.18 s per cell, 13 s in all, which
// keeps the whole run near 71 s on a 2-CPU machine, within 90 s. A window
// of 0.6 s on a busy server CPU holds about 60 clock ticks of CPU time, so
// tick rounding moves CPU per request by a few percent at most; rows with
// fewer ticks carry a note.
func Default() Options {
	return Options{
		Models:   []string{"epoll", "gnet", "std"},
		Conns:    []int{1, 10, 100, 1000},
		Pipeline: []int{1, 16},
		Duration: 600 * time.Millisecond,
		Warmup:   200 * time.Millisecond,
		Runs:     3,
		Client:   ClientBuiltin,
	}
}

// Validate checks the options after defaults.
func (o *Options) Validate() error {
	switch {
	case len(o.Models) == 0:
		return errors.New("no models")
	case len(o.Conns) == 0:
		return errors.New("no connection counts")
	case len(o.Pipeline) == 0:
		return errors.New("no pipeline depths")
	case o.Duration <= 0:
		return fmt.Errorf("duration %v: want more than 0", o.Duration)
	case o.Warmup < 0:
		return fmt.Errorf("warmup %v: want 0 or more", o.Warmup)
	case o.Runs < 1:
		return fmt.Errorf("runs %d: want at least 1", o.Runs)
	case o.Client != ClientBuiltin && o.Client != ClientWrk:
		return fmt.Errorf("client %q: want %s or %s", o.Client, ClientBuiltin, ClientWrk)
	case o.Loops < 0:
		return fmt.Errorf("loops %d: want 0 (one per server CPU) or more", o.Loops)
	case o.Binary == "":
		return errors.New("no server binary")
	}
	for i, m := range o.Models {
		if slices.Contains(o.Models[:i], m) {
			return fmt.Errorf("model %q given twice", m)
		}
	}
	for _, c := range o.Conns {
		if c < 1 {
			return fmt.Errorf("connections %d: want at least 1", c)
		}
	}
	for _, p := range o.Pipeline {
		if p < 1 {
			return fmt.Errorf("pipeline %d: want at least 1", p)
		}
	}
	return nil
}

// cells is the matrix of one run in the order it is measured: connection
// counts and pipeline depths in the order given, and within each, every
// model in turn, so the models are interleaved as finely as possible and
// whatever drifts on the machine affects them alike.
func (o *Options) cells() []cell {
	var cs []cell
	for _, c := range o.Conns {
		for _, p := range o.Pipeline {
			for _, m := range o.Models {
				cs = append(cs, cell{model: m, conns: c, pipeline: p})
			}
		}
	}
	return cs
}

type cell struct {
	model    string
	conns    int
	pipeline int
}

func (c cell) String() string {
	return fmt.Sprintf("%s conns=%d pipeline=%d", c.model, c.conns, c.pipeline)
}
