package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/readinesslab/readiness/experiment"
	"github.com/readinesslab/readiness/internal/host"
)

func init() {
	register(command{name: "slow", summary: "the slow-handler experiment: two requests against a handler that takes -delay, six servers", run: runSlow})
}

// slowTargets builds the experiment's servers from the model table: a
// model with goroutines (it ignores -delay-mode) runs -serial, where it has
// it, and as it is; an event-loop model runs with one loop, its handler
// sleeping in the loop (block) or waiting on a timer.
func slowTargets() []experiment.SlowTarget {
	var goroutines, loops []experiment.SlowTarget
	for _, m := range models {
		if m.ignores("delay-mode") {
			if !m.ignores("serial") {
				goroutines = append(goroutines, experiment.SlowTarget{
					Name: m.name + " -serial", Args: []string{m.name, "-serial"},
					OneAfterOther: "one connection at a time: the second waited in the kernel's accept queue until the first was answered and closed",
					Together:      "the second connection was served while the first waited, which a serial server should not do",
				})
			}
			goroutines = append(goroutines, experiment.SlowTarget{
				Name: m.name, Args: []string{m.name},
				OneAfterOther: "the two connections' goroutines did not wait side by side, which goroutine-per-connection should allow",
				Together:      "each connection has its own goroutine, and a sleeping goroutine holds no thread: the two waits ran side by side",
			})
			continue
		}
		for _, mode := range []string{"block", "timer"} {
			t := experiment.SlowTarget{Name: m.name + " " + mode, Args: []string{m.name, "-loops", "1", "-delay-mode", mode}}
			if mode == "block" {
				t.OneAfterOther = "the loop slept inside the handler; with one loop nothing else ran, so the second request was read only after the first was answered"
				t.Together = "the loop kept serving while a handler slept, which -delay-mode block should not allow"
			} else {
				t.OneAfterOther = "the loop did not serve the second request while the first's timer ran, which -delay-mode timer should allow"
				t.Together = "the loop did not wait itself: it set a timer for each response and went back to serving, so both timers ran side by side"
			}
			loops = append(loops, t)
		}
	}
	return append(goroutines, loops...)
}

func runSlow(args []string) int {
	fs := flag.NewFlagSet("slow", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	delay := fs.Duration("delay", 2*time.Second, "how long the handler takes (each batch of responses is held this long); -delay 8s reproduces the original story")
	asJSON := fs.Bool("json", false, "print the rows as JSON")
	markdown := fs.Bool("markdown", false, "print a Markdown document (the form kept in docs/)")
	positional, help, err := parseAnywhere(fs, args)
	targets := slowTargets()
	if help {
		fmt.Printf("Usage: readiness slow [flags]\n\n" +
			"The classic experiment: a handler that takes -delay, two requests sent at the\n" +
			"same moment on two connections (Connection: close), and when each response\n" +
			"arrives, in seconds after the send. Servers, each a child process:\n")
		for _, t := range targets {
			fmt.Printf("  %-14s readiness serve %s -delay D\n", t.Name, strings.Join(t.Args, " "))
		}
		fmt.Printf("Each row's explanation is chosen from what was measured: a second response a\n" +
			"whole delay after the first means one after the other; both within about one\n" +
			"delay means the waits overlapped. Half-way through the first delay the kernel\n" +
			"is asked (sock_diag, as ss does) where the requests wait: the listener's\n" +
			"Recv-Q (connections not yet accepted) and each connection's unread bytes.\n\nFlags:\n")
		fs.SetOutput(os.Stdout)
		fs.PrintDefaults()
		return 0
	}
	if err == nil && len(positional) > 0 {
		err = fmt.Errorf("unexpected arguments %q", positional)
	}
	if err == nil && *delay <= 0 {
		err = fmt.Errorf("-delay %s: want more than 0", *delay)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "readiness slow: %v\n(readiness slow -h explains it)\n", err)
		return 2
	}
	exe, err := os.Executable()
	if err != nil {
		fmt.Fprintf(os.Stderr, "readiness slow: %v\n", err)
		return 1
	}
	rows, err := experiment.Slow(exe, *delay, targets)
	if err != nil {
		fmt.Fprintf(os.Stderr, "readiness slow: %v\n", err)
		return 1
	}
	command := strings.Join(append([]string{"readiness", "slow"}, setFlags(fs)...), " ")
	switch {
	case *asJSON:
		out := struct {
			Machine host.Machine         `json:"machine"`
			Command string               `json:"command"`
			DelayS  float64              `json:"delay_s"`
			Rows    []experiment.SlowRow `json:"rows"`
		}{host.ThisMachine(), command, delay.Seconds(), rows}
		return printJSON("slow", out)
	case *markdown:
		docHeader(os.Stdout, "A slow handler, two requests", command)
		fmt.Printf("Two requests sent at the same moment on two connections; the handler takes %s.\n"+
			"Times are seconds from the send to the whole response.\n\n", *delay)
		fmt.Printf("| server | first_s | second_s | why |\n| --- | --- | --- | --- |\n")
		for _, r := range rows {
			fmt.Printf("| %s | %.2f | %.2f | %s |\n", r.Server, r.First, r.Second, r.Why)
		}
		fmt.Printf("\n## Where the requests wait\n\n%s\n\n", queuesIntro)
		fmt.Printf("| server | at_s | listener_recv_q | conn1_unread | conn2_unread |\n| --- | --- | --- | --- | --- |\n")
		for _, r := range rows {
			if q := r.Queues; q != nil {
				fmt.Printf("| %s | %.2f | %d | %d | %d |\n", r.Server, q.At, q.Backlog, q.Unread[0], q.Unread[1])
			} else {
				fmt.Printf("| %s | - | - | - | - |\n", r.Server)
			}
		}
		writeQueueNotes(os.Stdout, rows)
	default:
		fmt.Printf("two requests sent together on two connections; the handler takes %s\n\n", *delay)
		fmt.Printf("%-14s %8s %9s\n", "server", "first_s", "second_s")
		for _, r := range rows {
			fmt.Printf("%-14s %8.2f %9.2f\n", r.Server, r.First, r.Second)
		}
		fmt.Println()
		for _, r := range rows {
			fmt.Printf("%s: %s\n", r.Server, r.Why)
		}
		fmt.Printf("\n%s\n%-14s %6s %16s %13s %13s\n", queuesIntro, "server", "at_s", "listener_recv_q", "conn1_unread", "conn2_unread")
		for _, r := range rows {
			if q := r.Queues; q != nil {
				fmt.Printf("%-14s %6.2f %16d %13d %13d\n", r.Server, q.At, q.Backlog, q.Unread[0], q.Unread[1])
			}
		}
		writeQueueNotes(os.Stdout, rows)
	}
	return 0
}

// queuesIntro explains the queue readings.
var queuesIntro = fmt.Sprintf("Half-way through the first response's delay, the kernel's queues (sock_diag, "+
	"the Recv-Q of ss -ltn and ss -tn): the listener's counts connections completed and not accepted; "+
	"each connection's counts the bytes of its %d-byte request that the server has not read.", len(experiment.SlowRequest))

// writeQueueNotes says why a row has no queue reading.
func writeQueueNotes(w io.Writer, rows []experiment.SlowRow) {
	for _, r := range rows {
		if r.QueuesNote != "" {
			fmt.Fprintf(w, "%s: queues not read: %s\n", r.Server, r.QueuesNote)
		}
	}
}

// docHeader starts a Markdown capture: what it is, where it was measured,
// and the command that reproduces it. goRun is go run's own flags, if the
// command needs any.
func docHeader(w io.Writer, title, command string, goRun ...string) {
	fmt.Fprintf(w, "# %s: `%s`\n\n", title, command)
	fmt.Fprintf(w, "Generated by `go generate ./docs`; do not edit by hand.\n\n")
	fmt.Fprintf(w, "- Machine: %s\n", host.ThisMachine())
	fmt.Fprintf(w, "- Reproduce: `%s ./cmd/readiness %s`\n\n", strings.Join(append([]string{"go run"}, goRun...), " "), strings.TrimPrefix(command, "readiness "))
}
