package trace

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
)

const callWidth = 62

// WriteText prints the sequence for a terminal: the threads and their roles,
// the setup, then the script with the client's steps between the calls.
func (s *Sequence) WriteText(w io.Writer) {
	fmt.Fprintf(w, "threads (roles inferred from their calls):\n%s", legend(s.Threads))
	fmt.Fprintf(w, "\n%s.\n", NotesLegend)
	fmt.Fprintf(w, "\nsetup (ms from the first socket or epoll instance):\n")
	writeSteps(w, s.Setup)
	fmt.Fprintf(w, "\nscript (ms from the client's first step):\n")
	writeSteps(w, s.Script)
}

// WriteMarkdown prints the same as a Markdown section under a level-two
// heading naming the model.
func (s *Sequence) WriteMarkdown(w io.Writer) {
	fmt.Fprintf(w, "## %s\n\n", s.Model)
	fmt.Fprintf(w, "| thread | tid | role | what it does |\n| --- | --- | --- | --- |\n")
	for _, t := range s.Threads {
		fmt.Fprintf(w, "| %s | %d | %s | %s |\n", t.Label, t.TID, t.Role, roleHelp[t.Role])
	}
	fmt.Fprintf(w, "\nSetup (ms from the first socket or epoll instance):\n\n```\n")
	writeSteps(w, s.Setup)
	fmt.Fprintf(w, "```\n\nScript (ms from the client's first step):\n\n```\n")
	writeSteps(w, s.Script)
	fmt.Fprintf(w, "```\n\n")
}

func writeSteps(w io.Writer, steps []Step) {
	for _, st := range steps {
		at := fmt.Sprintf("%9.3f", float64(st.At)/float64(time.Millisecond))
		if st.Client {
			fmt.Fprintf(w, "%s  ---- client: %s\n", at, st.Text)
			continue
		}
		line := fmt.Sprintf("%s  %-3s  %-*s", at, st.Thread, callWidth, st.Text)
		if st.Note != "" {
			line += "  " + st.Note
		}
		fmt.Fprintln(w, strings.TrimRight(line, " "))
	}
}

// WriteCounts prints a table of calls per system call (rows) and model
// (columns) over the script window, with the EAGAIN results in brackets.
func WriteCounts(w io.Writer, seqs []*Sequence, markdown bool) {
	total := map[string]int{}
	for _, s := range seqs {
		for name, k := range s.Counts {
			total[name] += k
		}
	}
	names := make([]string, 0, len(total))
	for name := range total {
		names = append(names, name)
	}
	sort.Slice(names, func(i, j int) bool {
		if total[names[i]] != total[names[j]] {
			return total[names[i]] > total[names[j]]
		}
		return names[i] < names[j]
	})
	rows := [][]string{append([]string{"syscall"}, modelNames(seqs)...)}
	for _, name := range names {
		row := []string{name}
		for _, s := range seqs {
			cell := fmt.Sprint(s.Counts[name])
			if e := s.EAGAIN[name]; e > 0 {
				cell += fmt.Sprintf(" (%d EAGAIN)", e)
			}
			row = append(row, cell)
		}
		rows = append(rows, row)
	}
	last := []string{"total"}
	for _, s := range seqs {
		last = append(last, fmt.Sprint(s.Calls))
	}
	rows = append(rows, last)
	writeTable(w, rows, markdown)
}

func modelNames(seqs []*Sequence) []string {
	out := make([]string, len(seqs))
	for i, s := range seqs {
		out[i] = s.Model
	}
	return out
}

// writeTable prints rows aligned for a terminal, or as a Markdown table.
func writeTable(w io.Writer, rows [][]string, markdown bool) {
	if markdown {
		for i, r := range rows {
			fmt.Fprintf(w, "| %s |\n", strings.Join(r, " | "))
			if i == 0 {
				fmt.Fprintf(w, "|%s\n", strings.Repeat(" --- |", len(r)))
			}
		}
		return
	}
	width := make([]int, len(rows[0]))
	for _, r := range rows {
		for i, c := range r {
			width[i] = max(width[i], len([]rune(c)))
		}
	}
	for _, r := range rows {
		var b strings.Builder
		for i, c := range r {
			fmt.Fprintf(&b, "%-*s  ", width[i], c)
		}
		fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
	}
}
