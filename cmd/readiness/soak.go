package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/readinesslab/readiness/soak"
)

func init() {
	register(command{name: "soak", summary: "well-behaved and hostile clients against all models at once; fails on an error or a leak", run: runSoak})
}

func soakUsage(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprintf(w, `Usage: readiness soak [-d DURATION] [flags]

Starts each model as its own child process (readiness serve MODEL -addr
127.0.0.1:0 -idle-timeout T -header-timeout T) and runs, against all of them
at once for -d, well-behaved clients and hostile ones:

  good     -conns keep-alive connections per server sending pipelined batches
           (GET, HEAD, POST with a body, HTTP/1.0 keep-alive, now and then
           Connection: close) at -rate requests/s in all, every byte checked
  reset    connections reset (SO_LINGER 0) mid-head, mid-body, mid-pipeline
  unread   20 pipelined requests, closed without reading the answers
  invalid  invalid requests: the contract's exact 400/413/431/501/505 bytes,
           then the close, are required
  slow     a head sent a byte at a time: 408 after -header-timeout required
  idle     -idle connections that send nothing: the close after
           -idle-timeout is required
  noread   pipelines without reading until the server pushes back (bounded)
  churn    -churn connections opened together and left together every
           -churn-every; a new client must be served after each burst

The paced kinds (reset, unread, invalid) run -ops operations per second each.
Every -interval each server is read from /proc: fds (/proc/PID/fd), RSS and
threads (/proc/PID/status); a line goes to stderr. At the end a table goes to
stdout (-json: one object).

A server fails when a well-behaved exchange failed, a hostile client did not
get what the contract promises, its process died or did not exit 0 on
SIGTERM, or it leaked: its fd count is not back within -fd-slack of its
baseline within -settle after the clients stopped, or the median RSS of the
last quarter of the run exceeds that of the second quarter by more than
-rss-growth MiB or -rss-growth-frac of it, whichever is larger. The exit code
is 0 when every server passed, 1 when one failed, 2 for bad flags.

Flags:
`)
	fs.SetOutput(w)
	fs.PrintDefaults()
}

func runSoak(args []string) int {
	fs := flag.NewFlagSet("soak", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var cfg soak.Config
	fs.DurationVar(&cfg.Duration, "d", soak.DefaultDuration, "how long the clients run")
	list := fs.String("models", strings.Join(modelNames(), ","), "the models to soak, all at once")
	fs.DurationVar(&cfg.Interval, "interval", soak.DefaultInterval, "between two readings of each server")
	fs.DurationVar(&cfg.Settle, "settle", soak.DefaultSettle, "how long fds may take to come back to baseline after the clients stop")
	fs.IntVar(&cfg.Conns, "conns", soak.DefaultConns, "well-behaved keep-alive connections per server")
	fs.IntVar(&cfg.Pipeline, "pipeline", soak.DefaultPipeline, "requests per batch of a well-behaved connection")
	fs.Float64Var(&cfg.Rate, "rate", soak.DefaultRate, "well-behaved requests per second per server")
	fs.Float64Var(&cfg.Ops, "ops", soak.DefaultOps, "operations per second of each paced hostile kind, per server")
	fs.IntVar(&cfg.Churn, "churn", soak.DefaultChurn, "connections per churn burst")
	fs.DurationVar(&cfg.ChurnEvery, "churn-every", soak.DefaultChurnEvery, "between two churn bursts")
	fs.IntVar(&cfg.Idle, "idle", soak.DefaultIdle, "idle connections held per server")
	fs.DurationVar(&cfg.IdleTimeout, "idle-timeout", 5*time.Second, "the servers' -idle-timeout (0 disables it)")
	fs.DurationVar(&cfg.HeaderTimeout, "header-timeout", 2*time.Second, "the servers' -header-timeout (0 disables it and the slow client)")
	fs.IntVar(&cfg.Limits.FDSlack, "fd-slack", 0, "fds a server may hold above its baseline after the clients left")
	growth := fs.Float64("rss-growth", float64(soak.DefaultRSSGrowth)/(1<<20), "MiB the RSS may grow from the second quarter to the last")
	fs.Float64Var(&cfg.Limits.RSSGrowthFrac, "rss-growth-frac", soak.DefaultRSSGrowthFrac, "share of the second quarter's RSS it may grow, when larger than -rss-growth")
	asJSON := fs.Bool("json", false, "print the report as one JSON object")
	positional, help, err := parseAnywhere(fs, args)
	if help {
		soakUsage(os.Stdout, fs)
		return 0
	}
	if err == nil && len(positional) > 0 {
		err = fmt.Errorf("unexpected arguments %q", positional)
	}
	if err == nil {
		err = checkSoakFlags(cfg, *growth)
	}
	var names []string
	if err == nil {
		names, err = parseModels(*list)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "readiness soak: %v\n(readiness soak -h explains it)\n", err)
		return 2
	}
	cfg.Limits.RSSGrowth = int64(*growth * (1 << 20))
	cfg.Progress = os.Stderr

	exe, err := os.Executable()
	if err != nil {
		fmt.Fprintf(os.Stderr, "readiness soak: %v\n", err)
		return 1
	}
	servers, err := soak.StartServers(exe, names, cfg.IdleTimeout, cfg.HeaderTimeout)
	if err != nil {
		fmt.Fprintf(os.Stderr, "readiness soak: %v\n", err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := soak.Run(ctx, cfg, servers.Targets())
	for name, serr := range servers.Stop() {
		if rep != nil {
			rep.AddFailure(name, fmt.Sprintf("shutdown: %v", serr))
		} else {
			fmt.Fprintf(os.Stderr, "readiness soak: %s: shutdown: %v\n", name, serr)
		}
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "readiness soak: %v\n", err)
		return 1
	}
	if *asJSON {
		if code := printJSON("soak", rep); code != 0 {
			return code
		}
	} else {
		rep.WriteText(os.Stdout)
	}
	return soakExit(rep)
}

// soakExit is the exit code for a finished run: 0 when every server passed.
func soakExit(rep *soak.Report) int {
	if rep.Pass {
		return 0
	}
	return 1
}

func checkSoakFlags(cfg soak.Config, growth float64) error {
	switch {
	case cfg.Duration <= 0 || cfg.Interval <= 0 || cfg.Settle <= 0 || cfg.ChurnEvery <= 0:
		return fmt.Errorf("-d, -interval, -settle and -churn-every must be positive")
	case cfg.Conns < 1 || cfg.Pipeline < 1 || cfg.Churn < 1 || cfg.Idle < 1:
		return fmt.Errorf("-conns, -pipeline, -churn and -idle must be at least 1")
	case !(cfg.Rate > 0) || !(cfg.Ops > 0):
		return fmt.Errorf("-rate and -ops must be positive")
	case cfg.IdleTimeout < 0 || cfg.HeaderTimeout < 0:
		return fmt.Errorf("-idle-timeout and -header-timeout must not be negative")
	case cfg.Limits.FDSlack < 0 || !(growth > 0) || !(cfg.Limits.RSSGrowthFrac > 0):
		return fmt.Errorf("-fd-slack must not be negative, -rss-growth and -rss-growth-frac must be positive")
	}
	return nil
}
