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
	"math"
	"slices"
	"time"
)

// Options is one comparison. Zero fields take the defaults of Default.
type Options struct {
	// Models are the models' spellings, each a model name or a variant
	// of one (MODEL:FLAG=VALUE..., see Variant), run as `Binary serve
	// MODEL [-FLAG=VALUE...]`.
	Models   []string
	Conns    []int         // concurrent connections per cell
	Pipeline []int         // requests in flight per connection
	Duration time.Duration // measured window per cell
	Warmup   time.Duration // load before each window, not measured
	Runs     int           // interleaved repetitions of the whole matrix

	// Open-loop sweep: each swept cell is loaded at every offered rate,
	// the same rates for every model. Rates lists them (requests/s over
	// all connections); AutoRates instead derives AutoPoints rates per
	// cell from the models' closed-loop capacity (see autoRates). With
	// neither, nothing is swept.
	Rates      []float64
	AutoRates  bool
	AutoPoints int
	// SweepConns and SweepPipeline are the cells swept, every pair of
	// the two; nil takes Conns and Pipeline.
	SweepConns, SweepPipeline []int

	// Net is where the servers listen: NetLo (127.0.0.1) or NetVeth (a
	// network namespace of their own, reached over a veth pair).
	Net string

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

// The networks.
const (
	NetLo   = "lo"
	NetVeth = "veth"
)

// The clients.
const (
	ClientBuiltin = "builtin"
	ClientWrk     = "wrk"
)

// Default is the default comparison: a closed-loop matrix (every model,
// 1 to 1000 connections, pipeline 1 and 16) and an open-loop sweep of 7
// automatic rates at 100 connections and pipeline 1, two interleaved
// runs. That is 48 closed and 42 open cells of 0.5 s measured after
// 0.3 s of warm-up (see docs/performance.md for how the warm-up was
// chosen); starting a server, attaching perf and stopping the server add
// about 0.2 s per cell, so the run takes about 90 s on an idle 2-CPU
// machine, within 120 s with room for a busy one. A window of 0.5 s on a
// busy server CPU holds about 50 clock ticks of CPU time; rows with fewer
// ticks (the light-load end of the sweep) carry a note.
func Default() Options {
	return Options{
		Models:        []string{"epoll", "gnet", "std"},
		Conns:         []int{1, 10, 100, 1000},
		Pipeline:      []int{1, 16},
		Duration:      500 * time.Millisecond,
		Warmup:        300 * time.Millisecond,
		Runs:          2,
		Client:        ClientBuiltin,
		AutoRates:     true,
		AutoPoints:    7,
		SweepConns:    []int{100},
		SweepPipeline: []int{1},
		Net:           NetLo,
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
	case o.Net != "" && o.Net != NetLo && o.Net != NetVeth:
		return fmt.Errorf("net %q: want %s or %s", o.Net, NetLo, NetVeth)
	case o.AutoRates && len(o.Rates) > 0:
		return errors.New("rates: give a list or auto, not both")
	case o.AutoRates && o.AutoPoints < 2:
		return fmt.Errorf("auto rates: %d points, want at least 2", o.AutoPoints)
	case o.swept() && o.Client == ClientWrk:
		return errors.New("open-loop cells (-rates) need the built-in client: wrk has no fixed-rate mode")
	}
	for _, r := range o.Rates {
		if !(r > 0) || math.IsInf(r, 0) {
			return fmt.Errorf("rate %v: want a positive number of requests per second", r)
		}
	}
	for i, m := range o.Models {
		if _, err := ParseVariant(m); err != nil {
			return err
		}
		if slices.Contains(o.Models[:i], m) {
			return fmt.Errorf("model %q given twice", m)
		}
	}
	for _, list := range []struct {
		name string
		v    []int
	}{{"connections", o.Conns}, {"pipeline", o.Pipeline}, {"swept connections", o.SweepConns}, {"swept pipeline", o.SweepPipeline}} {
		for _, n := range list.v {
			if n < 1 {
				return fmt.Errorf("%s %d: want at least 1", list.name, n)
			}
		}
	}
	return nil
}

// swept reports whether the options ask for open-loop cells.
func (o *Options) swept() bool { return o.AutoRates || len(o.Rates) > 0 }

// sweepShapes are the connection counts and pipeline depths swept, in
// the order given.
func (o *Options) sweepShapes() []shape {
	if !o.swept() {
		return nil
	}
	conns, pipe := o.SweepConns, o.SweepPipeline
	if conns == nil {
		conns = o.Conns
	}
	if pipe == nil {
		pipe = o.Pipeline
	}
	var out []shape
	for _, c := range conns {
		for _, p := range pipe {
			out = append(out, shape{c, p})
		}
	}
	return out
}

// closedShapes are the closed-loop cells: the matrix, and with automatic
// rates every swept shape too, whose capacity the rates are drawn from.
func (o *Options) closedShapes() []shape {
	var out []shape
	for _, c := range o.Conns {
		for _, p := range o.Pipeline {
			out = append(out, shape{c, p})
		}
	}
	if o.AutoRates {
		for _, s := range o.sweepShapes() {
			if !slices.Contains(out, s) {
				out = append(out, s)
			}
		}
	}
	return out
}

// CellsPerRun is how many cells one run measures.
func (o *Options) CellsPerRun() int {
	rates := len(o.Rates)
	if o.AutoRates {
		rates = o.AutoPoints
	}
	return len(o.Models) * (len(o.closedShapes()) + rates*len(o.sweepShapes()))
}

// shape is a cell's connection count and pipeline depth.
type shape struct {
	conns, pipeline int
}

// cell is what one row measures: a model at one shape, closed loop
// (offered 0) or open loop at the offered rate. A run measures the closed
// cells first, each shape with every model in turn, then the open ones,
// each rate with every model in turn, so the models are interleaved as
// finely as possible and whatever drifts on the machine affects them
// alike.
type cell struct {
	model string
	shape
	offered float64
}

func (c cell) String() string {
	if c.offered > 0 {
		return fmt.Sprintf("%s conns=%d pipeline=%d rate=%s/s", c.model, c.conns, c.pipeline, FormatRate(c.offered))
	}
	return fmt.Sprintf("%s conns=%d pipeline=%d", c.model, c.conns, c.pipeline)
}
