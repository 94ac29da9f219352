package compare

import (
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"
)

// tableHeader names the columns of the summary table, units included.
var tableHeader = []string{
	"model", "conns", "pipeline", "rps", "±", "p50", "p99", "p99.9",
	"CPU µs/req", "±", "user µs", "sys µs", "syscalls/req", "ctxsw/req",
	"allocs/req", "GCs", "RSS", "threads", "errors",
}

// tableRow is one summary as the table's cells.
func tableRow(s Summary) []string {
	errs := strconv.FormatInt(s.Errors, 10)
	if s.Failed > 0 {
		errs += fmt.Sprintf(" (%d/%d runs failed)", s.Failed, s.Runs)
	}
	return []string{
		s.Model, strconv.Itoa(s.Conns), strconv.Itoa(s.Pipeline),
		count(s.RPS), spread(s.RPS),
		latency(s.P50us), latency(s.P99us), latency(s.P999us),
		number(s.CPUus), spread(s.CPUus), number(s.UserUs), number(s.SysUs),
		number(s.Syscalls), number(s.Ctxsw), number(s.Allocs), integer(s.GCs),
		bytesIEC(s.RSS), integer(s.Threads), errs,
	}
}

// WriteTable writes the summaries as an aligned table, numbers flush
// right, followed by a line on how to read it.
func WriteTable(w io.Writer, sums []Summary, runs int) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	line := func(cells []string) {
		for _, c := range cells {
			fmt.Fprint(tw, c, "\t")
		}
		fmt.Fprintln(tw)
	}
	line(tableHeader)
	for _, s := range sums {
		line(tableRow(s))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "\n%s\n", legend(runs))
	return err
}

// legend says what the table's figures are.
func legend(runs int) string {
	what := "one run"
	if runs > 1 {
		what = fmt.Sprintf("medians of %d runs; ± is half the range between runs, as a share of the median", runs)
	}
	return what + ". Latency is the client's; CPU (user + sys), system calls, context switches, heap allocations, GCs (per window), RSS and threads are the server process's, measured from outside over the measured window; - means not measured (see notes in results.json)."
}
