package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/readinesslab/readiness/internal/netns"
	"github.com/readinesslab/readiness/journey"
)

func init() {
	register(command{name: "journey", summary: "one request's path through the kernel and the runtime, recorded with perf: readiness journey MODEL|all", run: runJourney})
}

// journeyArgs are the serve flags every journey's server gets: one loop
// (GOMAXPROCS 1 for std), as in trace.
var journeyArgs = traceArgs

func journeyUsage(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprintf(w, `Usage: readiness journey [flags] MODEL|all

Starts the server (readiness serve MODEL %s) and a client process held
until perf records, then runs the client's script: connect, one request, a
pause, a second request on the same connection, close. perf records the
kernel's tracepoints system-wide (net_dev_queue, netif_rx, netif_receive_skb,
the NET_RX softirq, napi_poll, sk_data_ready, inet_sock_set_state,
sched_waking, sched_switch), the system calls of the server and the client,
and entry uprobes on the runtime's netpoll, netpollready, ready, execute,
stopm, startm, futexsleep, futexwakeup and notewakeup in the server's binary.
It prints, per model, the timeline in µs since the client's first request
write entered the kernel, each event with its CPU, thread, the thread's role
(inferred from what it does), and a note; then the request's critical path
and the threads woken. With -conns N the client instead opens N connections
at once, one request each, and the output counts, per loop thread, the
accepts, the epoll returns and the wake-ups that found nothing.

Probes are added under a group named after this process and removed at the
end, also on error and on SIGINT or SIGTERM; -net veth's namespaces too.
Needs root and perf; -net veth needs the ip command.
"all" runs every model (%s).

Flags:
`, strings.Join(journeyArgs, " "), strings.Join(modelNames(), ", "))
	fs.SetOutput(w)
	fs.PrintDefaults()
}

func runJourney(args []string) int {
	if len(args) > 0 && args[0] == "-client" {
		return runJourneyClient(args[1:])
	}
	fs := flag.NewFlagSet("journey", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	asJSON := fs.Bool("json", false, "print the journeys as JSON (the contract's shape)")
	markdown := fs.Bool("markdown", false, "print a Markdown document (the form kept in docs/)")
	raw := fs.String("raw", "", "keep perf.data, perf script's text and the capture's description in this directory, per model")
	extra := fs.String("serve", "", "more serve flags, comma-separated, e.g. -serve=-trigger=edge or -serve=-accept=exclusive,-loops=4")
	netName := fs.String("net", "lo", "lo: client and server on loopback; veth: the server in a network namespace of its own, joined to the client's by a veth pair (NAPI)")
	conns := fs.Int("conns", 0, "instead of the two-request script, a burst of N connections, one request each, and the accept and wake-up counts per loop")
	pause := fs.Duration("pause", 50*time.Millisecond, "the pause between the two requests")
	positional, help, err := parseAnywhere(fs, args)
	if help {
		journeyUsage(os.Stdout, fs)
		return 0
	}
	var names []string
	if err == nil {
		names, err = traceModels(positional)
	}
	switch {
	case err != nil:
	case *netName != "lo" && *netName != "veth":
		err = fmt.Errorf("-net %q: want lo or veth", *netName)
	case *conns < 0 || *conns > 1000:
		err = fmt.Errorf("-conns %d: want 0 (the two-request script) to 1000", *conns)
	case *pause < 0 || *pause > 5*time.Second:
		err = fmt.Errorf("-pause %v: want 0 to 5s", *pause)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "readiness journey: %v\n(readiness journey -h explains it)\n", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	results, err := journeys(ctx, names, *netName, *extra, *conns, *pause, *raw)
	if err != nil {
		fmt.Fprintf(os.Stderr, "readiness journey: %v\n", err)
		if errors.Is(err, context.Canceled) {
			return 130
		}
		return 1
	}
	command := "readiness journey " + strings.Join(append([]string{positional[0]}, setFlags(fs)...), " ")
	switch {
	case *asJSON:
		return printJSON("journey", struct {
			Models []journey.Result `json:"models"`
		}{results})
	case *markdown:
		writeJourneyMarkdown(os.Stdout, command, results)
	default:
		for _, r := range results {
			fmt.Printf("==== %s (readiness serve %s %s%s, net %s)\n\n", r.Model, r.Model,
				strings.Join(journeyArgs, " "), serveText(*extra), r.Net)
			r.WriteText(os.Stdout)
		}
	}
	return 0
}

// journeys records every model in turn. The probes, and with -net veth the
// namespaces, are removed on every way out, the signal's included: ctx is
// cancelled by SIGINT and SIGTERM and every wait watches it.
func journeys(ctx context.Context, names []string, netName, extra string, conns int, pause time.Duration, raw string) (out []journey.Result, err error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	var pair *netns.Pair
	if netName == "veth" {
		if err := netns.Check(); err != nil {
			return nil, err
		}
	}
	rec, err := journey.NewRecorder(exe)
	if err != nil {
		return nil, err
	}
	if slices.Contains(rec.Missing, journey.NoSymbols) {
		fmt.Fprintf(os.Stderr, "readiness journey: warning: %s\n", journey.NoSymbols)
	}
	defer func() {
		if cerr := rec.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("removing the probes: %w", cerr)
		}
	}()
	if netName == "veth" {
		if pair, err = netns.Create(); err != nil {
			return nil, err
		}
		defer func() {
			if rerr := pair.Remove(); rerr != nil && err == nil {
				err = fmt.Errorf("removing the namespaces: %w", rerr)
			}
		}()
	}
	for _, name := range names {
		serve := append(append([]string(nil), journeyArgs...), serveExtra(extra)...)
		o := journey.Options{Model: name, Serve: serve, Pair: pair, Conns: conns, Pause: pause, Raw: raw}
		tl, err := journeyOnce(ctx, rec, o)
		if err != nil && ctx.Err() != nil {
			return nil, fmt.Errorf("%s: interrupted; probes and namespaces removed: %w", name, ctx.Err())
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		out = append(out, tl.Result(rec.Missing))
	}
	return out, nil
}

// journeyAttempts bounds the recordings of one model: on this shared
// machine perf now and then misses the end of a script, and a capture
// without it is never shown as whole.
const journeyAttempts = 3

func journeyOnce(ctx context.Context, rec *journey.Recorder, o journey.Options) (*journey.Timeline, error) {
	var err error
	for i := 0; i < journeyAttempts; i++ {
		var c *journey.Capture
		c, err = rec.Run(ctx, o)
		if err == nil && ctx.Err() != nil {
			err = ctx.Err()
		}
		if err != nil {
			return nil, err
		}
		var tl *journey.Timeline
		if tl, err = c.Timeline(); err != nil {
			return nil, err
		}
		if err = tl.Complete(); err == nil {
			return tl, nil
		}
	}
	return nil, fmt.Errorf("%w (%d attempts)", err, journeyAttempts)
}

// runJourneyClient is the client process journey starts: not a command of
// its own, so not in the usage.
func runJourneyClient(args []string) int {
	if len(args) < 1 {
		fmt.Fprintln(os.Stderr, "readiness journey -client ADDR [-conns N] [-pause D] [-server PID]")
		return 2
	}
	fs := flag.NewFlagSet("journey-client", flag.ContinueOnError)
	conns := fs.Int("conns", 0, "")
	pause := fs.Duration("pause", 50*time.Millisecond, "")
	server := fs.Int("server", 0, "")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	if err := journey.RunClient(os.Stdin, os.Stdout, args[0], *conns, *pause, *server); err != nil {
		fmt.Fprintf(os.Stderr, "readiness journey client: %v\n", err)
		return 1
	}
	return 0
}

func writeJourneyMarkdown(w io.Writer, command string, results []journey.Result) {
	// go run links without a symbol table, which the runtime's uprobes need.
	docHeader(w, "One request's journey through the kernel and the runtime", command, "-ldflags=-s=false")
	fmt.Fprintf(w, "- Each server runs as `readiness serve MODEL %s` (plus the -serve flags); a client process runs the script.\n", strings.Join(journeyArgs, " "))
	fmt.Fprintf(w, "- Recorded with `perf record -a` (tracepoints) and `perf record -p SERVER,CLIENT` (system calls, entry uprobes on the runtime); times are µs since the client's first request write entered the kernel.\n")
	fmt.Fprintf(w, "- A system call is one line at its return. Left out of these tables (kept in -json): sysmon, runtime.execute, futexsleep and the runtime's sleeps.\n\n")
	for _, r := range results {
		r.WriteMarkdown(w)
	}
}
