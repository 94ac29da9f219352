package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/readinesslab/readiness/compare"
	"github.com/readinesslab/readiness/gnetserver"
)

func init() {
	register(command{name: "compare", summary: "run every model as a pinned child process under the same load matrix and report throughput, latency and the server's CPU, system calls and memory", run: runCompare})
}

func runCompare(args []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return compareMain(ctx, args, os.Stdout, os.Stderr)
}

// compareSettings are the flags of `readiness compare`.
type compareSettings struct {
	opts      compare.Options
	out       string
	benchstat string
	asJSON    bool
}

// listFlag is a comma-separated flag value parsed by set.
type listFlag struct {
	text string
	set  func(string) error
}

func (l *listFlag) String() string { return l.text }
func (l *listFlag) Set(s string) error {
	if err := l.set(s); err != nil {
		return err
	}
	l.text = s
	return nil
}

// compareFlags binds the flags to s, which holds the defaults. Each flag's
// usage is one sentence; compareUsage prints them in this order.
func compareFlags(fs *flag.FlagSet, s *compareSettings) {
	o := &s.opts
	fs.Var(&listFlag{strings.Join(o.Models, ","), func(v string) error {
		ms, err := parseModels(v)
		o.Models = ms
		return err
	}}, "models", "the models to compare, in the order each cell runs them; MODEL:FLAG=VALUE[:FLAG=VALUE...] is a variant, whose server gets -FLAG=VALUE (e.g. epoll:idle=park), and gnet:lock=1 locks gnet's event loops to their threads ("+gnetserver.LockEnv+"=1); a variant's full spelling names its rows")
	fs.Var(&listFlag{joinInts(o.Conns), func(v string) error {
		var err error
		o.Conns, err = parseInts(v)
		return err
	}}, "conns", "the concurrent connection counts of the matrix")
	fs.Var(&listFlag{joinInts(o.Pipeline), func(v string) error {
		var err error
		o.Pipeline, err = parseInts(v)
		return err
	}}, "pipeline", "the pipeline depths of the matrix: requests each connection keeps in flight")
	fs.Var(&listFlag{ratesText(o), func(v string) error {
		switch v {
		case "auto":
			o.AutoRates, o.Rates = true, nil
			return nil
		case "off":
			o.AutoRates, o.Rates = false, nil
			return nil
		}
		rates, err := compare.ParseRates(v)
		o.AutoRates, o.Rates = false, rates
		return err
	}}, "rates", "open-loop cells at these offered rates (requests/s, e.g. 2k,10k,50k) in every cell of the matrix, the same rates for every model; auto draws them from each model's closed-loop capacity in the cell, from 5% of the slowest's to 120% of the fastest's; off sweeps nothing. Not given: automatic rates at 100 connections, pipeline 1 only, and no sweep with -client wrk")
	fs.IntVar(&o.AutoPoints, "auto-points", compare.AutoPoints, "how many rates -rates auto offers (the default job's own sweep offers "+strconv.Itoa(o.AutoPoints)+")")
	fs.StringVar(&o.Net, "net", o.Net, "where the servers listen: lo (127.0.0.1) or veth (each server in a network namespace of its own, reached over a veth pair)")
	fs.DurationVar(&o.Duration, "duration", o.Duration, "the measured window of each cell")
	fs.DurationVar(&o.Warmup, "warmup", o.Warmup, "load before each window, not measured")
	fs.IntVar(&o.Runs, "runs", o.Runs, "repetitions of the whole matrix, models interleaved, whose medians are reported")
	fs.StringVar(&o.Client, "client", o.Client, "the load generator: the built-in one (readiness load), or the system's wrk with pipelining through a Lua script")
	fs.Var(&listFlag{"", func(v string) error {
		var err error
		o.ServerCPUs, err = compare.ParseCPUs(v)
		return err
	}}, "server-cpus", "the CPUs the servers are pinned to, as taskset -c writes them (default: the first half of the CPUs this process may use)")
	fs.Var(&listFlag{"", func(v string) error {
		var err error
		o.ClientCPUs, err = compare.ParseCPUs(v)
		return err
	}}, "client-cpus", "the CPUs the load generator is pinned to, disjoint from the servers' (default: the other half)")
	fs.IntVar(&o.Loops, "loops", o.Loops, "passed to every server as -loops: event loops for epoll and gnet, GOMAXPROCS for std; 0 gives one per server CPU")
	fs.StringVar(&s.out, "out", s.out, "the directory that receives results.json, results.csv, results.md and the SVG charts")
	fs.StringVar(&s.benchstat, "benchstat", "", "also write the rows as Go benchmark lines to this file, for benchstat old.txt new.txt")
	fs.BoolVar(&s.asJSON, "json", false, "print results.json's object on stdout instead of the table")
}

// compareFlagArgs gives the order of -h and each flag's argument name.
var compareFlagArgs = []struct{ name, arg string }{
	{"models", "LIST"}, {"conns", "LIST"}, {"pipeline", "LIST"}, {"rates", "LIST|auto|off"}, {"auto-points", "N"},
	{"net", "lo|veth"}, {"duration", "D"}, {"warmup", "D"},
	{"runs", "N"}, {"client", "builtin|wrk"}, {"server-cpus", "LIST"}, {"client-cpus", "LIST"},
	{"loops", "N"}, {"out", "DIR"}, {"benchstat", "FILE"}, {"json", ""},
}

func defaultCompareSettings() compareSettings {
	return compareSettings{opts: compare.Default(), out: "results"}
}

// compareMain is `readiness compare` with its streams and context explicit.
func compareMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	s := defaultCompareSettings()
	fs := flag.NewFlagSet("compare", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	compareFlags(fs, &s)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			compareUsage(stdout)
			return 0
		}
		fmt.Fprintf(stderr, "readiness compare: %v\n(readiness compare -h explains the flags)\n", err)
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "readiness compare: unexpected arguments %q (readiness compare -h explains the flags)\n", fs.Args())
		return 2
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	if !given["auto-points"] {
		// The flag's default is for -rates auto; the default job keeps
		// its own, shorter sweep.
		s.opts.AutoPoints = defaultCompareSettings().opts.AutoPoints
		if given["rates"] {
			s.opts.AutoPoints = compare.AutoPoints
		}
	}
	switch {
	case given["rates"]:
		// Rates given on the command line sweep the whole matrix.
		s.opts.SweepConns, s.opts.SweepPipeline = nil, nil
	case s.opts.Client == compare.ClientWrk:
		// wrk has no fixed-rate mode: the default sweep is left out.
		s.opts.AutoRates = false
	}
	exe, err := os.Executable()
	if err != nil {
		fmt.Fprintf(stderr, "readiness compare: find this binary to start the servers: %v\n", err)
		return 1
	}
	s.opts.Binary = exe
	if err := s.opts.Validate(); err != nil {
		fmt.Fprintf(stderr, "readiness compare: %v\n", err)
		return 2
	}
	s.opts.Warn = func(msg string) { fmt.Fprintf(stderr, "readiness compare: warning: %s\n", msg) }
	var bar *progressbar.ProgressBar
	if f, ok := stderr.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		bar = newBar(f, s.opts)
		s.opts.Progress = func(done, total int, cell string) {
			bar.Describe(cell)
			bar.Set(done)
		}
	}

	res, err := compare.Run(ctx, s.opts)
	if bar != nil {
		bar.Clear()
	}
	if res == nil {
		fmt.Fprintf(stderr, "readiness compare: %v\n", err)
		return 1
	}
	code := 0
	if err != nil {
		fmt.Fprintf(stderr, "readiness compare: %v; the files hold what was measured\n", err)
		code = 1
	}
	command := strings.TrimSpace("readiness compare " + strings.Join(args, " "))
	if werr := compare.WriteFiles(s.out, res, command); werr != nil {
		fmt.Fprintf(stderr, "readiness compare: write %s: %v\n", s.out, werr)
		return 1
	}
	if s.benchstat != "" {
		if werr := writeBenchstat(s.benchstat, res); werr != nil {
			fmt.Fprintf(stderr, "readiness compare: -benchstat: %v\n", werr)
			return 1
		}
	}
	if s.asJSON {
		err = compare.WriteJSON(stdout, res)
	} else {
		err = compare.WriteReport(stdout, res)
	}
	if err != nil {
		fmt.Fprintf(stderr, "readiness compare: %v\n", err)
		return 1
	}
	return code
}

func writeBenchstat(path string, res *compare.Results) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := compare.WriteBenchmarks(f, res); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// newBar is the progress display: one step per cell run.
func newBar(w io.Writer, o compare.Options) *progressbar.ProgressBar {
	total := o.CellsPerRun() * o.Runs
	return progressbar.NewOptions(total,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription("compare"),
		progressbar.OptionShowCount(),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionSetWidth(24),
		progressbar.OptionThrottle(100_000_000),
		progressbar.OptionClearOnFinish(),
	)
}

// parseModels reads a comma-separated list of models, each a name from the
// table or a variant of one (MODEL:FLAG=VALUE..., see compare.Variant).
// A variant's flags are checked by the serve command's own parsing, so
// an unknown flag or a bad value is refused here, before any server runs.
func parseModels(s string) ([]string, error) {
	var out []string
	for name := range strings.SplitSeq(s, ",") {
		name = strings.TrimSpace(name)
		v, err := compare.ParseVariant(name)
		if err != nil {
			return nil, err
		}
		if _, err := lookupModel(v.Model); err != nil {
			return nil, err
		}
		if _, _, _, _, _, err := parseServe(append([]string{v.Model}, v.Serve()...)); err != nil {
			return nil, fmt.Errorf("model %q: %w", name, err)
		}
		out = append(out, name)
	}
	return out, nil
}

// parseInts reads a comma-separated list of positive integers.
func parseInts(s string) ([]int, error) {
	var out []int
	for part := range strings.SplitSeq(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(part))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("%q is not a positive integer", part)
		}
		out = append(out, n)
	}
	return out, nil
}

// ratesText is the -rates flag's default as it would be typed.
func ratesText(o *compare.Options) string {
	switch {
	case o.AutoRates:
		return "auto"
	case len(o.Rates) == 0:
		return "off"
	}
	s := make([]string, len(o.Rates))
	for i, r := range o.Rates {
		s[i] = strconv.FormatFloat(r, 'f', -1, 64)
	}
	return strings.Join(s, ",")
}

func joinInts(v []int) string {
	s := make([]string, len(v))
	for i, n := range v {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ",")
}

// compareUsage is the -h text.
func compareUsage(w io.Writer) {
	fmt.Fprint(w, `Usage: readiness compare [flags]

Measures the lab's servers side by side. Each model runs as its own child
process (this binary's "serve MODEL" on a free loopback port), pinned to the
server CPUs; the load generator runs pinned to the other CPUs. Two regimes:
closed loop, every cell of the matrix (model x connections x pipeline depth)
loaded as fast as the client goes; and open loop (-rates), each swept cell
loaded at fixed offered rates, the same for every model, from light load
through each model's knee into saturation. For every cell a fresh server is
started, loaded for -warmup, then measured for -duration: the client's
requests per second and latency, and the server process seen from outside
over exactly that window: CPU time split into user and system
(/proc/PID/stat), context switches (/proc/PID/task/*/status), RSS and
threads, system calls (perf stat on raw_syscalls:sys_enter) and the Go heap's
allocations and GCs (the server reports runtime.MemStats on SIGUSR1). The
models are interleaved and the matrix repeated -runs times; the table shows
medians and how far the runs spread. A figure that cannot be measured here is
null, with a note that says why. Open-loop rows also give the service time
(from each actual send, beside the corrected latency from each intended
send), and each model's knee: the lowest offered rate at which the achieved
rate fell below 97% of the offered one or the corrected p99 rose above 3
times its value at the lowest rate. Every row records the client's health
(its CPU use, its p99 send lag, the connections it held) and is marked
client-bound when the load generator, not the server, was the limit.

A model may be a variant, MODEL:FLAG=VALUE[:FLAG=VALUE...], whose server gets
each -FLAG=VALUE after the common flags (epoll:idle=park runs "serve epoll
... -idle=park"); gnet:lock=1 instead sets `+gnetserver.LockEnv+`=1 for that
server alone. The variant's full spelling is its rows' model, and each row's
server field is the server's startup line. For example:
  readiness compare -models epoll,epoll:idle=park,epoll:idle=block,gnet,gnet:lock=1,std

The tables, knees, client-bound rows and the ratios between models go to
stdout; -out receives results.json, results.csv, results.md, throughput.svg,
cpu.svg and latency.svg (closed loop), sweep_cpu.svg and sweep_latency.svg
(open loop), and one HdrHistogram log per row under hdr/. A progress display
appears on stderr when it is a terminal. With a single CPU, server and client
share it and a warning says so. Exit status 1 when a cell could not be
measured (its notes say why), 2 for bad flags.

Flags:
`)
	s := defaultCompareSettings()
	fs := flag.NewFlagSet("compare", flag.ContinueOnError)
	compareFlags(fs, &s)
	for _, a := range compareFlagArgs {
		f := fs.Lookup(a.name)
		fmt.Fprintf(w, "  %s\n    \t%s", strings.TrimSpace("-"+f.Name+" "+a.arg), f.Usage)
		if f.DefValue != "" && f.DefValue != "0" && f.DefValue != "false" || f.Name == "loops" {
			fmt.Fprintf(w, " (default %s)", f.DefValue)
		}
		fmt.Fprintln(w)
	}
}
