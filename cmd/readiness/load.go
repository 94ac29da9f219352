package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/readinesslab/readiness/compare/load"
)

func init() {
	register(command{name: "load", summary: "load a server on this machine in the manner of wrk, and report rps, latency and errors", run: runLoad})
}

func runLoad(args []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return loadMain(ctx, args, os.Stdout, os.Stderr)
}

// loadFlags binds the flags of `readiness load` to cfg.
func loadFlags(fs *flag.FlagSet, cfg *load.Config, asJSON *bool) {
	fs.IntVar(&cfg.Conns, "c", load.DefaultConns, "connections kept open to the server")
	fs.DurationVar(&cfg.Duration, "d", load.DefaultDuration, "length of the measured window")
	fs.IntVar(&cfg.Pipeline, "pipeline", load.DefaultPipeline, "requests in flight on each connection, written in one batch")
	fs.Float64Var(&cfg.Rate, "rate", 0, "requests per second over all connections, each connection sending its share on a fixed schedule, latency counted from each request's intended send time; 0: as fast as the server answers")
	fs.DurationVar(&cfg.Warmup, "warmup", 0, "load before the window starts, not counted")
	fs.IntVar(&cfg.Threads, "threads", 0, "event loops, each on its own OS thread (default: the CPUs this process may run on, at most -c)")
	fs.DurationVar(&cfg.Timeout, "timeout", load.DefaultTimeout, "a response not complete this long after its (intended) send is a timeout, and the connection is reopened")
	fs.BoolVar(asJSON, "json", false, "print one JSON object instead of the text report")
}

// loadMain is `readiness load` with its streams and context made explicit.
func loadMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var cfg load.Config
	var asJSON bool
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {}
	loadFlags(fs, &cfg, &asJSON)
	// The target may come before, between or after the flags.
	targets, help, err := parseAnywhere(fs, args)
	if help {
		loadUsage(stdout)
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "readiness load -h explains the flags")
		return 2
	}
	if len(targets) != 1 {
		fmt.Fprintf(stderr, "readiness load: want one HOST:PORT, got %d arguments (readiness load -h explains)\n", len(targets))
		return 2
	}
	cfg.Addr = targets[0]
	if _, err := load.ParseAddr(cfg.Addr); err != nil {
		fmt.Fprintf(stderr, "readiness load: %v\n", err)
		if errors.Is(err, load.ErrNotLoopback) {
			fmt.Fprintln(stderr, "readiness load only loads servers on this machine.")
		}
		return 2
	}
	if cfg.Conns < 1 || cfg.Duration <= 0 || cfg.Pipeline < 1 || cfg.Rate < 0 || cfg.Warmup < 0 || cfg.Threads < 0 || cfg.Timeout <= 0 {
		fmt.Fprintln(stderr, "readiness load: -c, -d, -pipeline and -timeout must be positive; -rate, -warmup and -threads must not be negative")
		return 2
	}

	r, err := load.Run(ctx, cfg)
	interrupted := err != nil && ctx.Err() != nil && errors.Is(err, ctx.Err())
	if err != nil && !interrupted {
		fmt.Fprintf(stderr, "readiness load: %v\n", err)
		return 1
	}
	if asJSON {
		enc := json.NewEncoder(stdout)
		if err := enc.Encode(r.JSON()); err != nil {
			fmt.Fprintf(stderr, "readiness load: %v\n", err)
			return 1
		}
	} else {
		report(stdout, cfg, r, interrupted)
	}
	if r.Requests == 0 {
		fmt.Fprintf(stderr, "readiness load: no correct response from %s in the window\n", cfg.Addr)
		return 1
	}
	return 0
}

// report prints the wrk-like text summary.
func report(w io.Writer, cfg load.Config, r *load.Result, interrupted bool) {
	mode := "closed loop"
	if r.Rate > 0 {
		mode = fmt.Sprintf("open loop at %g requests/s (latency from intended send times)", r.Rate)
	}
	fmt.Fprintf(w, "%v load @ %s\n", cfg.Duration, cfg.Addr)
	fmt.Fprintf(w, "  %d connections, %d thread(s), pipeline %d, %s\n", r.Conns, r.Threads, r.Pipeline, mode)
	if interrupted {
		fmt.Fprintf(w, "  interrupted: figures cover the first %.2fs of the window\n", r.Elapsed.Seconds())
	}
	s := r.JSON()
	fmt.Fprintf(w, "  Latency     p50 %-9s p90 %-9s p99 %-9s p99.9 %-9s max %s\n",
		usText(s.P50us), usText(s.P90us), usText(s.P99us), usText(s.P999us), usText(s.MaxUs))
	if s.P99ServiceUs != nil {
		fmt.Fprintf(w, "  Service     p50 %-9s p90 %-9s p99 %-9s p99.9 %-9s max %s  (from each actual send)\n",
			usText(*s.P50ServiceUs), usText(*s.P90ServiceUs), usText(*s.P99ServiceUs), usText(*s.P999ServiceUs), usText(*s.MaxServiceUs))
		fmt.Fprintf(w, "  Send lag    p99 %s (how late the client itself sent)\n", usText(*s.P99SendLagUs))
	}
	fmt.Fprintf(w, "  %d requests in %.2fs, %d of %d connections open at the end\n", r.Requests, r.Elapsed.Seconds(), r.Held, r.Conns)
	fmt.Fprintf(w, "Requests/sec: %.2f\n", r.RPS)
	fmt.Fprintf(w, "Errors: %d (connect %d, reset %d, timeout %d, mismatch %d, closed %d)\n",
		r.Errors, r.ConnectErrors, r.Resets, r.Timeouts, r.Mismatches, r.Closed)
}

// usText prints microseconds in the unit that suits them.
func usText(us float64) string {
	return (time.Duration(us * float64(time.Microsecond))).Round(time.Microsecond).String()
}

// loadUsage is the -h text.
func loadUsage(w io.Writer) {
	fmt.Fprint(w, `Usage: readiness load [flags] HOST:PORT

Loads an HTTP/1.1 server on this machine the way wrk does: a few event loops,
each on its own OS thread with its own epoll set, keep -c connections busy
with "GET / HTTP/1.1" requests. Every response is checked byte for byte
against the lab's "Hello, World!" response. It prints requests per second,
latency percentiles (HDR histograms, 1µs to 60s, 3 significant figures) and
the errors by kind: connect errors, resets, timeouts, mismatched bytes and
connections the server closed. A failed connection is reopened after 10ms.

Closed loop (the default) keeps -pipeline requests in flight per connection
and times each from its write. Open loop (-rate) sends on a fixed schedule
and times each request from when it should have been sent, so a server that
stalls cannot hide the stall (coordinated omission, corrected as wrk2 does);
it also reports the service time, from each request's actual send, and the
p99 of how late the client itself sent (its send lag: a large one means the
client, not the server, fell behind the schedule).

HOST must be a loopback address (127.0.0.0/8, ::1) or localhost; any other
target is refused with exit status 2, as are bad flags. A run with no
correct response exits 1. SIGINT or SIGTERM ends the run early and prints
what was measured so far.

Flags:
`)
	var cfg load.Config
	var asJSON bool
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	loadFlags(fs, &cfg, &asJSON)
	fs.VisitAll(func(f *flag.Flag) {
		name, usage := flag.UnquoteUsage(f)
		fmt.Fprintf(w, "  -%s", f.Name)
		if name != "" {
			fmt.Fprintf(w, " %s", name)
		}
		fmt.Fprintf(w, "\n    \t%s", usage)
		if f.DefValue != "0" && f.DefValue != "0s" && f.DefValue != "false" {
			fmt.Fprintf(w, " (default %s)", f.DefValue)
		}
		fmt.Fprintln(w)
	})
}
