package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/readinesslab/readiness/experiment"
	"github.com/readinesslab/readiness/internal/host"
)

func init() {
	register(command{name: "idle", summary: "what an idle keep-alive connection costs each server: RSS, kernel objects and threads per connection", run: runIdle})
}

func idleUsage(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprintf(w, `Usage: readiness idle [flags]

Starts each model (readiness serve MODEL, default flags) as a child process,
opens -warmup connections and reads the server's RSS (VmRSS in
/proc/PID/status), then opens -conns more keep-alive connections, each sending
one request and reading its 200 before going idle, and reads the RSS again.
The growth divided by -conns is what one idle connection costs the server's
process. Threads are read from the same file. The warm-up keeps one-time costs
(first buffers, first goroutine stacks, the first heap growth) out of the
per-connection figure.

The kernel's objects are counted from /proc/slabinfo (root), read with each
RSS reading: the active objects that the caches of a connection's end (TCP,
TCPv6, sock_inode_cache, filp, dentry, eventpoll_epi, eventpoll_pwq) gained,
per connection, for both ends of each loopback connection. The server's end is
one object of each cache (TCPv6 aside, the sockets being IPv4); added to the
process's share it gives the whole cost of one idle connection to the server's
machine. Caches that SLUB merged with others are counted in their shared row,
and the output says which.

The open-file limit is raised for this process and the servers (as root, the
hard limit too); connections come from 127.0.N.2, .3, ... with at most
-per-source connections per address, so ephemeral ports do not run out.

Flags:
`)
	fs.SetOutput(w)
	fs.PrintDefaults()
}

func runIdle(args []string) int {
	fs := flag.NewFlagSet("idle", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	conns := fs.Int("conns", 10000, "idle connections to open to each server")
	warmup := fs.Int("warmup", 100, "connections opened before the baseline reading")
	settle := fs.Duration("settle", time.Second, "pause before each RSS reading")
	dialers := fs.Int("dialers", 64, "connections being opened at once")
	perSource := fs.Int("per-source", 20000, "most connections from one 127.0.N.x source address")
	list := fs.String("models", strings.Join(modelNames(), ","), "the models to measure, in order")
	asJSON := fs.Bool("json", false, "print the rows as JSON")
	markdown := fs.Bool("markdown", false, "print a Markdown document (the form kept in docs/)")
	positional, help, err := parseAnywhere(fs, args)
	if help {
		idleUsage(os.Stdout, fs)
		return 0
	}
	if err == nil && len(positional) > 0 {
		err = fmt.Errorf("unexpected arguments %q", positional)
	}
	if err == nil && (*conns < 1 || *warmup < 1 || *dialers < 1 || *perSource < 1 || *perSource > 28000) {
		err = fmt.Errorf("-conns, -warmup and -dialers must be at least 1, -per-source between 1 and 28000")
	}
	var targets []experiment.IdleTarget
	if err == nil {
		var names []string
		names, err = parseModels(*list)
		for _, name := range names {
			targets = append(targets, experiment.IdleTarget{Name: name, Args: []string{name}})
		}
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "readiness idle: %v\n(readiness idle -h explains it)\n", err)
		return 2
	}
	exe, err := os.Executable()
	if err != nil {
		fmt.Fprintf(os.Stderr, "readiness idle: %v\n", err)
		return 1
	}
	cfg := experiment.IdleConfig{Exe: exe, Conns: *conns, Warmup: *warmup, Settle: *settle, Dialers: *dialers, PerSource: *perSource}
	if term.IsTerminal(int(os.Stderr.Fd())) {
		cfg.Progress = func(server string, open, total int) {
			fmt.Fprintf(os.Stderr, "\r%s: %d/%d connections", server, open, total)
			if open == total {
				fmt.Fprintln(os.Stderr)
			}
		}
	}
	rows, err := experiment.Idle(cfg, targets)
	if err != nil {
		fmt.Fprintf(os.Stderr, "readiness idle: %v\n", err)
		return 1
	}
	command := strings.Join(append([]string{"readiness", "idle"}, setFlags(fs)...), " ")
	switch {
	case *asJSON:
		out := struct {
			Machine host.Machine         `json:"machine"`
			Command string               `json:"command"`
			Rows    []experiment.IdleRow `json:"rows"`
		}{host.ThisMachine(), command, rows}
		return printJSON("idle", out)
	case *markdown:
		docHeader(os.Stdout, "What an idle connection costs", command)
		fmt.Printf("%d idle keep-alive connections per server, after a warm-up of %d; RSS from /proc/PID/status.\n\n", *conns, *warmup)
		writeIdleTable(os.Stdout, rows, true)
		fmt.Printf("\n## The kernel's objects\n\n")
		writeKernelTables(os.Stdout, rows, true)
	default:
		fmt.Printf("%d idle keep-alive connections per server, after a warm-up of %d; RSS from /proc/PID/status\n\n", *conns, *warmup)
		writeIdleTable(os.Stdout, rows, false)
		fmt.Println()
		writeKernelTables(os.Stdout, rows, false)
	}
	return 0
}

func writeIdleTable(w io.Writer, rows []experiment.IdleRow, markdown bool) {
	head := []string{"server", "conns", "ok", "rss_before", "rss_after", "bytes_per_conn", "threads", "open_s"}
	cells := [][]string{head}
	for _, r := range rows {
		cells = append(cells, []string{
			r.Server, fmt.Sprint(r.Conns), fmt.Sprint(r.OK),
			mib(r.RSSBefore), mib(r.RSSAfter), fmt.Sprintf("%.0f", r.BytesPerConn),
			fmt.Sprintf("%d -> %d", r.ThreadsBefore, r.ThreadsAfter), fmt.Sprintf("%.1f", r.OpenSeconds),
		})
	}
	if markdown {
		writeMarkdownTable(w, cells)
		return
	}
	for _, c := range cells {
		fmt.Fprintf(w, "%-8s %7s %7s %11s %11s %15s %9s %7s\n", c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7])
	}
}

// writeKernelTables prints what the kernel's slab caches gained per
// connection, then each model's whole cost per idle connection: its
// process's share and the kernel's objects for the server's end.
func writeKernelTables(w io.Writer, rows []experiment.IdleRow, markdown bool) {
	var counted []experiment.IdleRow
	for _, r := range rows {
		if r.KernelNote != "" {
			fmt.Fprintf(w, "%s: %s\n", r.Server, r.KernelNote)
		}
		if r.TotalBytesPerConn != nil {
			counted = append(counted, r)
		}
	}
	if len(counted) == 0 {
		return
	}
	caches := counted[0].Kernel
	intro := "Active objects gained per connection in /proc/slabinfo, read with each RSS reading: both ends of each loopback connection, and whatever else the machine allocated meanwhile."
	head := []string{"server"}
	for _, k := range caches {
		head = append(head, fmt.Sprintf("%s (%d B)", k.Cache, k.ObjSize))
	}
	head = append(head, "kernel_bytes_per_conn")
	cells := [][]string{head}
	for _, r := range counted {
		c := []string{r.Server}
		for _, k := range r.Kernel {
			c = append(c, fmt.Sprintf("%.2f", k.PerConn))
		}
		cells = append(cells, append(c, fmt.Sprintf("%.0f", *r.KernelBytesPerConn)))
	}
	var merged []string
	for _, k := range caches {
		if len(k.MergedWith) > 0 {
			merged = append(merged, fmt.Sprintf("%s is counted in the row %s, which it shares with %s", k.Cache, k.Row, strings.Join(k.MergedWith, ", ")))
		}
	}
	server := *counted[0].ServerKernelBytesPerConn
	totalsIntro := fmt.Sprintf("The server's end of one connection is one object of each cache but TCPv6 (a socket, its inode, an open file, its dentry, an epoll item and its wait-queue hook): %.0f bytes of kernel memory.", server)
	totals := [][]string{{"server", "process_bytes_per_conn", "kernel_bytes_per_conn (server's end)", "total_bytes_per_conn", "total / " + counted[0].Server}}
	for _, r := range counted {
		totals = append(totals, []string{r.Server, fmt.Sprintf("%.0f", r.BytesPerConn), fmt.Sprintf("%.0f", *r.ServerKernelBytesPerConn),
			fmt.Sprintf("%.0f", *r.TotalBytesPerConn), fmt.Sprintf("%.2f", *r.TotalBytesPerConn / *counted[0].TotalBytesPerConn)})
	}
	if markdown {
		fmt.Fprintf(w, "%s\n\n", intro)
		writeMarkdownTable(w, cells)
		if len(merged) > 0 {
			fmt.Fprintf(w, "\nMerged caches (SLUB): %s.\n", strings.Join(merged, "; "))
		}
		fmt.Fprintf(w, "\n## The whole cost per idle connection\n\n%s\n\n", totalsIntro)
		writeMarkdownTable(w, totals)
		return
	}
	fmt.Fprintf(w, "kernel objects gained per connection (both ends of each loopback connection):\n")
	writeTextTable(w, cells)
	if len(merged) > 0 {
		fmt.Fprintf(w, "merged caches (SLUB): %s\n", strings.Join(merged, "; "))
	}
	fmt.Fprintf(w, "\n%s\n", totalsIntro)
	writeTextTable(w, totals)
}

func writeMarkdownTable(w io.Writer, cells [][]string) {
	for i, c := range cells {
		fmt.Fprintf(w, "| %s |\n", strings.Join(c, " | "))
		if i == 0 {
			fmt.Fprintf(w, "|%s\n", strings.Repeat(" --- |", len(c)))
		}
	}
}

// writeTextTable aligns each column to its widest cell.
func writeTextTable(w io.Writer, cells [][]string) {
	width := make([]int, len(cells[0]))
	for _, c := range cells {
		for i, v := range c {
			width[i] = max(width[i], len(v))
		}
	}
	for _, c := range cells {
		for i, v := range c {
			if i == 0 {
				fmt.Fprintf(w, "%-*s", width[i], v)
				continue
			}
			fmt.Fprintf(w, "  %*s", width[i], v)
		}
		fmt.Fprintln(w)
	}
}

func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }
