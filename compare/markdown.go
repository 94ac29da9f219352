package compare

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/readinesslab/readiness/internal/host"
)

// WriteMarkdown writes results.md: the machine and its environment, the
// command, the closed-loop table, the sweep with its knees, the
// client-bound rows, the ratios between models, the charts and the notes.
func WriteMarkdown(w io.Writer, res *Results, sums []Summary, command string) error {
	m := res.Machine
	var b strings.Builder
	b.WriteString("# readiness compare\n\n")
	fmt.Fprintf(&b, "Measured %s on %d CPUs (%s), Linux %s, %s", m.Date, m.CPUs, orUnknown(m.CPUModel), orUnknown(m.Kernel), m.GoVersion)
	if m.GnetVersion != nil {
		fmt.Fprintf(&b, ", gnet %s", *m.GnetVersion)
	}
	fmt.Fprintf(&b, ". Servers on CPU %s with %d loop(s) each, the %s client on CPU %s", m.ServerCPUs, m.Loops, m.Client, m.ClientCPUs)
	if m.ClientVersion != nil {
		fmt.Fprintf(&b, " (%s)", *m.ClientVersion)
	}
	fmt.Fprintf(&b, "; %s s measured per cell after %s s of warm-up, %d run(s) with the models interleaved, a fresh server process per cell.\n\n",
		sig(m.DurationS, 3), sig(m.WarmupS, 3), m.Runs)
	if command != "" {
		fmt.Fprintf(&b, "```\n%s\n```\n\n", command)
	}

	writeEnvironment(&b, res.Environment)

	b.WriteString("## Closed loop\n\n")
	var closed, open [][]string
	for _, s := range sums {
		if s.Mode == ModeOpen {
			open = append(open, sweepRow(s, res.Knees))
		} else {
			closed = append(closed, tableRow(s))
		}
	}
	markdownTable(&b, tableHeader, closed)
	fmt.Fprintf(&b, "\n%s\n\n", legend(m.Runs))
	if len(open) > 0 {
		b.WriteString("## Open loop: the sweep\n\n")
		markdownTable(&b, sweepHeader, open)
		fmt.Fprintf(&b, "\n%s\n\n%s\n\n%s\n\n", sweepLegend, KneeRules, ClientRules)
		b.WriteString("### Knees\n\n")
		for _, k := range res.Knees {
			b.WriteString("- " + k.String() + "\n")
		}
		b.WriteString("\n")
	}
	if bound := boundRows(res.Rows); len(bound) > 0 {
		b.WriteString("## Client-bound rows\n\nTheir figures are the client's limit, not the server's, and their ratios are left out.\n\n")
		for _, line := range bound {
			b.WriteString("- " + line + "\n")
		}
		b.WriteString("\n")
	}
	if len(res.Ratios) > 0 {
		fmt.Fprintf(&b, "## Ratios between models\n\n%s\n\n", RatioLegend)
		writeRatios(&b, res.Ratios, "- ")
		b.WriteString("\n")
	}

	b.WriteString("## Charts\n\n")
	for _, c := range chartsFor(res) {
		fmt.Fprintf(&b, "![%s](%s)\n\n", strings.TrimSuffix(c, ".svg"), c)
	}

	b.WriteString("## How it was measured\n\n")
	for _, n := range m.Notes {
		b.WriteString("- " + n + "\n")
	}
	if notes := rowNotes(res.Rows); len(notes) > 0 {
		b.WriteString("\n## Notes from the cells\n\n")
		for _, n := range notes {
			b.WriteString("- " + n + "\n")
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// rowNotes lists each distinct note once, with how many rows gave it.
func rowNotes(rows []Row) []string {
	counts := map[string]int{}
	var order []string
	for _, r := range rows {
		for _, n := range r.Notes {
			if counts[n] == 0 {
				order = append(order, n)
			}
			counts[n]++
		}
	}
	slices.SortStableFunc(order, func(a, b string) int { return counts[b] - counts[a] })
	out := make([]string, len(order))
	for i, n := range order {
		out[i] = fmt.Sprintf("%s (%d of %d rows)", n, counts[n], len(rows))
	}
	return out
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

func markdownTable(b *strings.Builder, header []string, rows [][]string) {
	b.WriteString("| " + strings.Join(header, " | ") + " |\n")
	b.WriteString("|" + strings.Repeat(" ---: |", len(header)) + "\n")
	for _, r := range rows {
		b.WriteString("| " + strings.Join(r, " | ") + " |\n")
	}
}

// writeEnvironment writes the environment as a short list.
func writeEnvironment(b *strings.Builder, e host.Environment) {
	b.WriteString("## Environment\n\n")
	fmt.Fprintf(b, "- kernel %s, clock source %s, CPU %s\n", orUnknown(e.Kernel), orUnknown(e.ClockSource), orUnknown(e.CPUModel))
	if len(e.Mitigations) > 0 {
		names := slices.Sorted(maps.Keys(e.Mitigations))
		var parts []string
		for _, n := range names {
			parts = append(parts, n+": "+e.Mitigations[n])
		}
		fmt.Fprintf(b, "- mitigations: %s\n", strings.Join(parts, "; "))
	}
	var gmp []string
	for _, m := range slices.Sorted(maps.Keys(e.ServerGOMAXPROCS)) {
		gmp = append(gmp, fmt.Sprintf("%s %d", m, e.ServerGOMAXPROCS[m]))
	}
	fmt.Fprintf(b, "- servers on CPU %s (GOMAXPROCS: %s), client on CPU %s (GOMAXPROCS %d)\n", e.ServerCPUs, orUnknown(strings.Join(gmp, ", ")), e.ClientCPUs, e.ClientGOMAXPROCS)
	fmt.Fprintf(b, "- %s, gnet %s, x/sys %s, revision %s (from %s", e.Go, orUnknown(e.Gnet), orUnknown(e.XSys), orUnknown(e.Revision), e.RevisionFrom)
	if e.Modified != nil && *e.Modified {
		b.WriteString(", with uncommitted changes")
	}
	b.WriteString(")\n")
	var sc []string
	for _, n := range host.Sysctls {
		if v, ok := e.Sysctls[n]; ok {
			sc = append(sc, n+" = "+v)
		}
	}
	fmt.Fprintf(b, "- %s\n", strings.Join(sc, "; "))
	fmt.Fprintf(b, "- perf counted system calls: %v\n", e.PerfCounted)
	for _, n := range e.Notes {
		fmt.Fprintf(b, "- %s\n", n)
	}
	b.WriteString("\n")
}
