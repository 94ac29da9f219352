package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/readinesslab/readiness/internal/host"
	"github.com/readinesslab/readiness/trace"
)

func init() {
	register(command{name: "trace", summary: "watch one server's system calls under strace, annotated: readiness trace MODEL|all", run: runTrace})
}

// traceArgs are the serve flags every traced server gets: one loop (or
// GOMAXPROCS 1 for std) keeps the sequence short enough to read.
var traceArgs = []string{"-loops", "1"}

func traceUsage(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprintf(w, `Usage: readiness trace [flags] MODEL|all

Starts the server (readiness serve MODEL %s) under strace, following its
threads, drives a fixed client script against it (conn#1 sends a request,
pauses, sends a second; conn#2 connects and sends one; both close), stops it
with SIGTERM and prints the system calls the server made during the script,
each with its thread, its result (EAGAIN shown) and a note on what it means.
Thread roles (event loop, the runtime's netpoller, sysmon, a goroutine's
thread) are inferred from the calls. A note restates what strace recorded;
the words after "inferred:" are deduced from the calls (what the runtime or
the kernel did, which strace cannot see), and "(readiness journey MODEL
observes it)" names where that event is recorded with uprobes and
tracepoints. In -json, a step whose note has a deduced part has
"inferred": true. The runtime's start-up is left out.
"all" traces every model (%s) and adds a table of calls per model.
Needs strace (apt-get install strace).

Flags:
`, strings.Join(traceArgs, " "), strings.Join(modelNames(), ", "))
	fs.SetOutput(w)
	fs.PrintDefaults()
}

func runTrace(args []string) int {
	fs := flag.NewFlagSet("trace", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	asJSON := fs.Bool("json", false, "print the sequences and the counts as JSON")
	markdown := fs.Bool("markdown", false, "print a Markdown document (the form kept in docs/)")
	pause := fs.Duration("pause", 100*time.Millisecond, "the pause between conn#1's two requests")
	raw := fs.String("raw", "", "keep strace's raw output in this directory, one MODEL.strace file per model")
	extra := fs.String("serve", "", "more serve flags for the traced servers, comma-separated, e.g. -serve=-trigger=edge or -serve=-accept=exclusive,-loops=2")
	positional, help, err := parseAnywhere(fs, args)
	if help {
		traceUsage(os.Stdout, fs)
		return 0
	}
	var names []string
	if err == nil {
		names, err = traceModels(positional)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "readiness trace: %v\n(readiness trace -h explains it)\n", err)
		return 2
	}
	exe, err := os.Executable()
	if err == nil && *raw != "" {
		err = os.MkdirAll(*raw, 0o755)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "readiness trace: %v\n", err)
		return 1
	}
	var seqs []*trace.Sequence
	for _, name := range names {
		args := append(append([]string{name}, traceArgs...), serveExtra(*extra)...)
		o := trace.Options{Model: name, Exe: exe, Args: args, Pause: *pause}
		if *raw != "" {
			o.Output = filepath.Join(*raw, name+".strace")
		}
		seq, err := trace.Run(context.Background(), o)
		if errors.Is(err, trace.ErrNoStrace) {
			fmt.Fprintf(os.Stderr, "readiness trace: %v\n", err)
			return 1
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "readiness trace %s: %v\n", name, err)
			return 1
		}
		seqs = append(seqs, seq)
	}
	command := "readiness trace " + strings.Join(append([]string{positional[0]}, setFlags(fs)...), " ")
	switch {
	case *asJSON:
		out := struct {
			Machine host.Machine      `json:"machine"`
			Command string            `json:"command"`
			Models  []*trace.Sequence `json:"models"`
		}{host.ThisMachine(), command, seqs}
		if code := printJSON("trace", out); code != 0 {
			return code
		}
	case *markdown:
		writeTraceMarkdown(os.Stdout, command, *extra, seqs)
	default:
		for _, s := range seqs {
			fmt.Printf("==== %s (readiness serve %s %s %s, under strace %s)\n\n", s.Model, s.Model,
				strings.Join(traceArgs, " "), strings.ReplaceAll(*extra, ",", " "), strings.Join(trace.StraceArgs("FILE")[:4], " "))
			s.WriteText(os.Stdout)
			fmt.Println()
		}
		if len(seqs) > 1 {
			fmt.Println("calls per system call during the script (EAGAIN results in brackets):")
			trace.WriteCounts(os.Stdout, seqs, false)
		}
	}
	return 0
}

// traceModels expands MODEL|all into model names from the table.
func traceModels(positional []string) ([]string, error) {
	if len(positional) != 1 {
		return nil, fmt.Errorf("want one MODEL or all, got %q", positional)
	}
	if positional[0] == "all" {
		return modelNames(), nil
	}
	if _, err := lookupModel(positional[0]); err != nil {
		return nil, err
	}
	return positional, nil
}

// serveExtra is a -serve value (comma-separated serve flags) as arguments.
func serveExtra(extra string) []string {
	if extra == "" {
		return nil
	}
	return strings.Split(extra, ",")
}

// serveText is a -serve value as it reads on a command line: a space and
// the flags, or nothing.
func serveText(extra string) string {
	if extra == "" {
		return ""
	}
	return " " + strings.ReplaceAll(extra, ",", " ")
}

func writeTraceMarkdown(w io.Writer, command, extra string, seqs []*trace.Sequence) {
	flags := strings.Join(traceArgs, " ") + serveText(extra)
	docHeader(w, "What the servers ask the kernel", command)
	fmt.Fprintf(w, "- Each server runs as `readiness serve MODEL %s` under `strace %s -o FILE`.\n",
		flags, strings.Join(trace.StraceArgs("FILE")[:len(trace.StraceArgs("FILE"))-2], " "))
	fmt.Fprintf(w, "- Client script: conn#1 sends a request, pauses, sends a second; conn#2 connects and sends one; both close.\n")
	fmt.Fprintf(w, "- %s.\n", trace.NotesLegend)
	fmt.Fprintf(w, "- Times are milliseconds; `<...>` after a result is the time the call blocked; strace slows every call down, so read the order, not the durations.\n\n")
	if len(seqs) > 1 {
		fmt.Fprintf(w, "## Calls per system call during the script\n\nEAGAIN results in brackets.\n\n")
		trace.WriteCounts(w, seqs, true)
		fmt.Fprintln(w)
	}
	for _, s := range seqs {
		s.WriteMarkdown(w)
	}
}

// parseAnywhere parses flags placed before, between or after the positional
// arguments, which it returns. help reports -h.
func parseAnywhere(fs *flag.FlagSet, args []string) (positional []string, help bool, err error) {
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, true, nil
			}
			return nil, false, err
		}
		if fs.NArg() == 0 {
			return positional, false, nil
		}
		positional = append(positional, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// setFlags renders the flags given on the command line, to quote the
// command that produced an output.
func setFlags(fs *flag.FlagSet) []string {
	var out []string
	fs.Visit(func(f *flag.Flag) {
		if b, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() {
			out = append(out, "-"+f.Name)
			return
		}
		out = append(out, "-"+f.Name, f.Value.String())
	})
	return out
}
