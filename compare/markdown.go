package compare

import (
	"fmt"
	"io"
	"slices"
	"strings"
)

// WriteMarkdown writes results.md: the machine, the command, the median
// table, a plain reading of it, the charts and the notes.
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

	b.WriteString("## Results\n\n")
	b.WriteString("| " + strings.Join(tableHeader, " | ") + " |\n")
	b.WriteString("|" + strings.Repeat(" ---: |", len(tableHeader)) + "\n")
	for _, s := range sums {
		b.WriteString("| " + strings.Join(tableRow(s), " | ") + " |\n")
	}
	fmt.Fprintf(&b, "\n%s\n\n", legend(m.Runs))

	b.WriteString("## Reading\n\n")
	for _, line := range Reading(sums) {
		b.WriteString("- " + line + "\n")
	}

	b.WriteString("\n## Charts\n\n")
	for _, c := range ChartFiles {
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
