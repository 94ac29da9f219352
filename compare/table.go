package compare

import (
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"
)

// tableHeader names the columns of the closed-loop table, units included.
var tableHeader = []string{
	"model", "conns", "pipeline", "rps", "±", "p50", "p99", "p99.9",
	"CPU µs/req", "±", "user µs", "sys µs", "syscalls/req", "ctxsw/req",
	"allocs/req", "GCs", "RSS", "threads", "errors", "srv util", "cli util", "client-bound",
}

// tableRow is one closed-loop summary as the table's cells.
func tableRow(s Summary) []string {
	return []string{
		s.Model, strconv.Itoa(s.Conns), strconv.Itoa(s.Pipeline),
		count(s.RPS), spread(s.RPS),
		latency(s.P50us), latency(s.P99us), latency(s.P999us),
		number(s.CPUus), spread(s.CPUus), number(s.UserUs), number(s.SysUs),
		number(s.Syscalls), number(s.Ctxsw), number(s.Allocs), integer(s.GCs),
		bytesIEC(s.RSS), integer(s.Threads), errorsCell(s),
		share(s.ServerUtil), share(s.ClientUtil), boundCell(s),
	}
}

// sweepHeader names the columns of the open-loop table.
var sweepHeader = []string{
	"model", "conns", "pipeline", "offered", "achieved", "p50", "p99", "svc p99", "lag p99",
	"CPU µs/req", "±", "user µs", "sys µs", "srv util", "cli util", "errors", "client-bound", "knee",
}

// sweepRow is one open-loop summary as the table's cells; the knee column
// marks the rate that is the model's knee.
func sweepRow(s Summary, knees []Knee) []string {
	mark := ""
	if k, ok := kneeOf(knees, s.Model, s.Conns, s.Pipeline); ok && k == s.Offered {
		mark = "<-knee"
	}
	return []string{
		s.Model, strconv.Itoa(s.Conns), strconv.Itoa(s.Pipeline),
		FormatRate(s.Offered), count(s.RPS),
		latency(s.P50us), latency(s.P99us), latency(s.P99Service), latency(s.SendLag),
		number(s.CPUus), spread(s.CPUus), number(s.UserUs), number(s.SysUs),
		share(s.ServerUtil), share(s.ClientUtil), errorsCell(s), boundCell(s), orDash(mark),
	}
}

func errorsCell(s Summary) string {
	errs := strconv.FormatInt(s.Errors, 10)
	if s.Failed > 0 {
		errs += fmt.Sprintf("(%d/%d_runs_failed)", s.Failed, s.Runs)
	}
	return errs
}

// boundCell says how many measured runs of the cell were client-bound.
func boundCell(s Summary) string {
	if s.ClientBound == 0 {
		return "-"
	}
	return fmt.Sprintf("yes(%d/%d)", s.ClientBound, s.Runs-s.Failed)
}

// share shows a 0-1 utilization as a percentage.
func share(s Stat) string {
	if s.N == 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f%%", 100*s.Median)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// WriteTable writes the closed-loop summaries as an aligned table,
// numbers flush right, followed by a line on how to read it.
func WriteTable(w io.Writer, sums []Summary, runs int) error {
	var rows [][]string
	for _, s := range sums {
		if s.Mode != ModeOpen {
			rows = append(rows, tableRow(s))
		}
	}
	if err := aligned(w, tableHeader, rows); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "\n%s\n", legend(runs))
	return err
}

// WriteSweepTable writes the open-loop summaries with each knee marked,
// followed by the rules.
func WriteSweepTable(w io.Writer, sums []Summary, knees []Knee) error {
	var rows [][]string
	for _, s := range sums {
		if s.Mode == ModeOpen {
			rows = append(rows, sweepRow(s, knees))
		}
	}
	if len(rows) == 0 {
		return nil
	}
	if err := aligned(w, sweepHeader, rows); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "\n%s\n%s\n%s\n", sweepLegend, KneeRules, ClientRules)
	return err
}

// WriteReport is what compare prints: the closed-loop table, the sweep
// with its knees, the client-bound rows and the ratios between models.
func WriteReport(w io.Writer, res *Results) error {
	sums := Summarize(res.Rows)
	if err := WriteTable(w, sums, res.Machine.Runs); err != nil {
		return err
	}
	fmt.Fprintln(w)
	if err := WriteSweepTable(w, sums, res.Knees); err != nil {
		return err
	}
	if len(res.Knees) > 0 {
		fmt.Fprintln(w, "\nKnees:")
		for _, k := range res.Knees {
			fmt.Fprintln(w, "  "+k.String())
		}
	}
	if bound := boundRows(res.Rows); len(bound) > 0 {
		fmt.Fprintln(w, "\nClient-bound rows (their figures are the client's limit, not the server's):")
		for _, line := range bound {
			fmt.Fprintln(w, "  "+line)
		}
	}
	if len(res.Ratios) > 0 {
		fmt.Fprintf(w, "\nRatios. %s\n", RatioLegend)
		writeRatios(w, res.Ratios, "  ")
	}
	return nil
}

// aligned writes a header and rows through a right-aligning tabwriter.
func aligned(w io.Writer, header []string, rows [][]string) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	line := func(cells []string) {
		for _, c := range cells {
			fmt.Fprint(tw, c, "\t")
		}
		fmt.Fprintln(tw)
	}
	line(header)
	for _, r := range rows {
		line(r)
	}
	return tw.Flush()
}

// legend says what the closed-loop table's figures are.
func legend(runs int) string {
	what := "Closed loop, one run"
	if runs > 1 {
		what = fmt.Sprintf("Closed loop, medians of %d runs; ± is half the range between runs, as a share of the median", runs)
	}
	return what + ". Latency is the client's; CPU (user + sys), system calls, context switches, heap allocations, GCs (per window), RSS and threads are the server process's, measured from outside over the measured window; srv util and cli util are the share of their CPUs the server and the client kept busy; - means not measured (see notes in results.json)."
}

// sweepLegend says what the open-loop table's figures are.
const sweepLegend = "Open loop: requests sent on a fixed schedule at the offered rate, the same rates for every model. p50 and p99 count from each request's intended send time (coordinated omission corrected); svc p99 from its actual send; lag p99 is how late the client itself sent."

// String is the knee as one line.
func (k Knee) String() string {
	where := fmt.Sprintf("%s at %d conns, pipeline %d: ", k.Model, k.Conns, k.Pipeline)
	if k.KneeRPS == nil {
		return where + RuleNone
	}
	return where + FormatRate(*k.KneeRPS) + "/s (" + k.Rule + ")"
}

// boundRows lists the client-bound rows with the note that says why.
func boundRows(rows []Row) []string {
	var out []string
	for _, r := range rows {
		if !r.ClientBound {
			continue
		}
		why := ""
		for _, n := range r.Notes {
			if len(n) > 13 && n[:13] == "client-bound:" {
				why = n
			}
		}
		where := "closed loop"
		if r.OfferedRPS != nil {
			where = "open loop at " + FormatRate(*r.OfferedRPS) + "/s"
		}
		out = append(out, fmt.Sprintf("%s, %d conns, pipeline %d, %s, run %d: %s", r.Model, r.Conns, r.Pipeline, where, r.Run, why))
	}
	return out
}
