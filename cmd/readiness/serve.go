package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/readinesslab/readiness/compare"
	"github.com/readinesslab/readiness/internal/serve"
)

func init() {
	register(command{name: "serve", summary: "run one server: readiness serve epoll|gnet|std [flags]", run: runServe})
}

// shutdownGrace bounds a graceful shutdown, so the process exits within the
// contract's 5 s of the signal.
const shutdownGrace = 4500 * time.Millisecond

// serveFlags defines the serve flags on fs, filling cfg (which holds the
// defaults); it returns the -cpuprofile setting. serveFlagArgs gives the
// order and argument names for -h.
func serveFlags(fs *flag.FlagSet, cfg *serve.Config) *string {
	fs.StringVar(&cfg.Addr, "addr", cfg.Addr, "the address to listen on; port 0 picks a free port")
	fs.IntVar(&cfg.Loops, "loops", cfg.Loops, "event loops for epoll and gnet, GOMAXPROCS for std; 0: the CPUs this process may run on")
	fs.StringVar(&cfg.Trigger, "trigger", cfg.Trigger, "level-triggered epoll (one read per readiness event) or edge-triggered (EPOLLET, reading until EAGAIN)")
	fs.StringVar(&cfg.Accept, "accept", cfg.Accept, "one SO_REUSEPORT listener per loop; one listener shared by every loop with EPOLLEXCLUSIVE (one loop, rarely a few, woken per connection); or one shared listener without it (every waiting loop woken per connection: the thundering herd, on purpose)")
	fs.StringVar(&cfg.Idle, "idle", cfg.Idle, "how an epoll loop sleeps once it has nothing to do: hold (a raw wait that keeps the P for up to 10 ms, then park, or block if the listener is shared; with more loops than GOMAXPROCS, park or block at once), block (the runtime's blocking system call at once), spin (poll for up to 20 µs, then hold) or park (in the runtime's netpoller at once)")
	fs.BoolVar(&cfg.Serial, "serial", cfg.Serial, "serve one connection at a time with no goroutine per connection: the first server of the story")
	fs.DurationVar(&cfg.Delay, "delay", cfg.Delay, "hold each batch of responses this long, as a slow handler would")
	fs.StringVar(&cfg.DelayMode, "delay-mode", cfg.DelayMode, "sleep where the handler runs, stalling an event loop, or wait on a timer without blocking the loop")
	fs.DurationVar(&cfg.IdleTimeout, "idle-timeout", cfg.IdleTimeout, "close connections with no request in progress after this long; 0 disables")
	fs.DurationVar(&cfg.HeaderTimeout, "header-timeout", cfg.HeaderTimeout, "answer 408 and close when a request's headers are not complete this long after its first byte; 0 disables")
	fs.IntVar(&cfg.MaxConns, "max-conns", cfg.MaxConns, "the most connections served at once, like Redis's maxclients; one more gets 503 and is closed; the default is the open-file limit minus 64")
	return fs.String("cpuprofile", "", "write a pprof CPU profile of the serving period to this file, stopped at shutdown")
}

// serveFlagArgs lists the flags in the order -h explains them, each with the
// name of its argument.
var serveFlagArgs = []struct{ name, arg string }{
	{"addr", "HOST:PORT"},
	{"loops", "N"},
	{"trigger", "level|edge"},
	{"accept", "reuseport|exclusive|shared"},
	{"idle", "hold|block|spin|park"},
	{"serial", ""},
	{"delay", "D"},
	{"delay-mode", "block|timer"},
	{"idle-timeout", "D"},
	{"header-timeout", "D"},
	{"max-conns", "N"},
	{"cpuprofile", "FILE"},
}

// parseServe reads MODEL and the flags, in any order. The error is meant for
// the user; help reports -h.
func parseServe(args []string) (m model, cfg serve.Config, set map[string]bool, cpuprofile string, help bool, err error) {
	cfg = serve.Default()
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	profile := serveFlags(fs, &cfg)
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return m, cfg, nil, "", true, nil
			}
			return m, cfg, nil, "", false, err
		}
		if fs.NArg() == 0 {
			break
		}
		positional = append(positional, fs.Arg(0))
		args = fs.Args()[1:]
	}
	switch len(positional) {
	case 0:
		return m, cfg, nil, "", false, fmt.Errorf("missing MODEL: want one of %s", strings.Join(modelNames(), ", "))
	case 1:
	default:
		return m, cfg, nil, "", false, fmt.Errorf("want one MODEL, got %q", positional)
	}
	if m, err = lookupModel(positional[0]); err != nil {
		return m, cfg, nil, "", false, err
	}
	switch {
	case cfg.Loops < 0:
		return m, cfg, nil, "", false, fmt.Errorf("-loops %d: want 0 (the CPUs available) or more", cfg.Loops)
	case cfg.MaxConns < 1:
		return m, cfg, nil, "", false, fmt.Errorf("-max-conns %d: want at least 1", cfg.MaxConns)
	}
	cfg = cfg.Resolve()
	if err := cfg.Validate(); err != nil {
		return m, cfg, nil, "", false, err
	}
	set = map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	return m, cfg, set, *profile, false, nil
}

func runServe(args []string) int {
	m, cfg, set, cpuprofile, help, err := parseServe(args)
	if help {
		serveUsage(os.Stdout)
		return 0
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "readiness serve: %v\n(readiness serve -h explains the models and flags)\n", err)
		return 2
	}

	// Catch the signals before the listening line goes out: a script may
	// send one as soon as it reads that line.
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)
	// SIGUSR1 asks for the heap counts (readiness compare reads them at a
	// window's edges); caught before the listening line for the same reason.
	usr1 := make(chan os.Signal, 1)
	signal.Notify(usr1, syscall.SIGUSR1)
	defer signal.Stop(usr1)
	go reportMemStats(usr1, os.Stderr)

	var profile *os.File
	if cpuprofile != "" {
		if profile, err = os.Create(cpuprofile); err != nil {
			fmt.Fprintf(os.Stderr, "readiness serve: %v\n", err)
			return 1
		}
		defer profile.Close()
	}
	s, err := m.start(cfg)
	if err != nil {
		fmt.Fprintf(os.Stderr, "readiness serve %s: %v\n", m.name, err)
		return 1
	}
	if profile != nil {
		if err := pprof.StartCPUProfile(profile); err != nil {
			fmt.Fprintf(os.Stderr, "readiness serve: -cpuprofile: %v\n", err)
			return 1
		}
	}
	stopProfile := func() {
		if profile != nil {
			pprof.StopCPUProfile()
			profile = nil
		}
	}
	defer stopProfile()
	// os.Stdout is not buffered: the line is out once Println returns.
	fmt.Println(startupLine(m, cfg, s.Addr(), set))

	sig := <-sigs
	fmt.Fprintf(os.Stderr, "readiness serve %s: %v: finishing the responses in flight (a second signal exits at once)\n", m.name, sig)
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
		defer cancel()
		done <- s.Shutdown(ctx)
	}()
	select {
	case err := <-done:
		stopProfile()
		if err != nil {
			// The contract's exit status after a signal is 0 all the same:
			// the server did stop, only not every response finished.
			fmt.Fprintf(os.Stderr, "readiness serve %s: shutdown: %v: closed the remaining connections at once\n", m.name, err)
		}
		return 0
	case sig := <-sigs:
		fmt.Fprintf(os.Stderr, "readiness serve %s: second signal (%v): exiting at once\n", m.name, sig)
		stopProfile()
		return 128 + int(sig.(syscall.Signal))
	}
}

// reportMemStats writes one memstats line to w for each signal until the
// channel is closed or the process exits.
func reportMemStats(sigs <-chan os.Signal, w io.Writer) {
	var m runtime.MemStats
	for range sigs {
		runtime.ReadMemStats(&m)
		fmt.Fprintln(w, compare.FormatMemStats(&m))
	}
}

// startupLine is the first line on stdout: the model, the real address, the
// settings that apply to the model and the flags it ignores.
func startupLine(m model, cfg serve.Config, addr string, set map[string]bool) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s listening on %s (loops=%d", m.name, addr, cfg.Loops)
	setting := func(flag string, value any) {
		if !m.ignores(flag) {
			fmt.Fprintf(&b, " %s=%v", flag, value)
		}
	}
	setting("trigger", cfg.Trigger)
	setting("accept", cfg.Accept)
	setting("idle", cfg.Idle)
	setting("serial", cfg.Serial)
	if cfg.Delay > 0 {
		setting("delay", cfg.Delay)
		setting("delay-mode", cfg.DelayMode)
	}
	setting("max-conns", cfg.MaxConns)
	setting("idle-timeout", cfg.IdleTimeout)
	setting("header-timeout", cfg.HeaderTimeout)
	b.WriteString(")")
	var ignored []string
	for _, f := range m.ignored {
		if set[f] {
			ignored = append(ignored, "-"+f)
		}
	}
	if len(ignored) > 0 {
		fmt.Fprintf(&b, "; ignored by %s: %s", m.name, strings.Join(ignored, ", "))
	}
	return b.String()
}

// serveUsage is the -h text: what serve does, each model and each flag.
func serveUsage(w io.Writer) {
	fmt.Fprint(w, `Usage: readiness serve MODEL [flags]

Runs one of the lab's HTTP/1.1 servers until SIGINT or SIGTERM. Every model
answers every request with the same "Hello, World!" bytes; only the I/O model
differs. The first line on stdout reads "MODEL listening on HOST:PORT
(settings)", with the real port.

SIGUSR1 writes one line to stderr with the Go heap's cumulative counts,
"memstats mallocs=N frees=N total_alloc=N num_gc=N", and serving goes on.

SIGINT or SIGTERM stops accepting, lets the responses in flight (delayed ones
too) go out whole, closes every connection and exits 0 within 5 s. A second
signal exits at once with status 128+signal: 130 for SIGINT, 143 for SIGTERM.
Bad arguments exit 2.

Models:
`)
	for _, m := range models {
		fmt.Fprintf(w, "  %-6s %s\n", m.name, wrap(m.summary+".", 70, "\n         "))
	}
	fmt.Fprint(w, `
Flags (every model accepts every flag, so one command line drives all three; a
flag set for a model it does not apply to is named as ignored on the startup
line):
`)
	cfg := serve.Default()
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	serveFlags(fs, &cfg)
	for _, a := range serveFlagArgs {
		f := fs.Lookup(a.name)
		fmt.Fprintf(w, "  %s\n    \t%s", strings.TrimSpace("-"+f.Name+" "+a.arg), f.Usage)
		switch f.Name {
		case "loops", "max-conns":
			fmt.Fprintf(w, " (here %s)", f.DefValue)
		case "serial", "delay", "cpuprofile":
		default:
			fmt.Fprintf(w, " (default %s)", f.DefValue)
		}
		if by := ignoredBy(f.Name); len(by) > 0 {
			fmt.Fprintf(w, "; ignored by %s", strings.Join(by, ", "))
		}
		fmt.Fprintln(w)
	}
}

// ignoredBy lists the models that ignore flag.
func ignoredBy(flag string) []string {
	var names []string
	for _, m := range models {
		if m.ignores(flag) {
			names = append(names, m.name)
		}
	}
	return names
}

// wrap breaks text into lines of at most width bytes, joined by sep.
func wrap(text string, width int, sep string) string {
	var lines []string
	line := ""
	for _, word := range strings.Fields(text) {
		if line != "" && len(line)+1+len(word) > width {
			lines = append(lines, line)
			line = ""
		}
		if line != "" {
			line += " "
		}
		line += word
	}
	return strings.Join(append(lines, line), sep)
}
