package compare

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestFormats(t *testing.T) {
	one := func(v float64) Stat { return Stat{Median: v, Min: v, Max: v, N: 1} }
	for _, tc := range []struct{ got, want string }{
		{count(one(950)), "950"},
		{count(one(41234)), "41.2k"},
		{count(one(1234567)), "1.23M"},
		{latency(one(96.4)), "96µs"},
		{latency(one(3141)), "3.14ms"},
		{latency(one(2.5e6)), "2.50s"},
		{number(one(4.213)), "4.21"},
		{number(one(0.00123)), "0.00123"},
		{number(one(1520.4)), "1520"},
		{bytesIEC(one(12 << 20)), "12.0MiB"},
		{bytesIEC(one(3000)), "2.93KiB"},
		{integer(one(6.6)), "7"},
		{spread(Stat{Median: 100, Min: 90, Max: 110, N: 3}), "±10%"},
		{spread(one(5)), "-"},
		{count(Stat{}), "-"},
		{latency(Stat{}), "-"},
		{bytesIEC(Stat{}), "-"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}

func TestWriteTable(t *testing.T) {
	rows := syntheticRows()
	// One cell with nothing measured by perf shows "-".
	for i := range rows {
		if rows[i].Model == "std" && rows[i].Conns == 1 && rows[i].Pipeline == 1 {
			rows[i].SyscallsPerReq = nil
		}
	}
	sums := Summarize(rows)
	var b bytes.Buffer
	if err := WriteTable(&b, sums, 3); err != nil {
		t.Fatal(err)
	}
	table, legend, ok := strings.Cut(b.String(), "\n\n")
	if !ok || !strings.Contains(legend, "medians of 3 runs") {
		t.Fatalf("no legend after the table:\n%s", b.String())
	}
	lines := strings.Split(table, "\n")
	if len(lines) != 1+len(sums) {
		t.Fatalf("%d lines, want a header and %d rows:\n%s", len(lines), len(sums), table)
	}
	for _, h := range tableHeader {
		if !strings.Contains(lines[0], h) {
			t.Errorf("header lacks %q: %s", h, lines[0])
		}
	}
	// Right-aligned columns: every line is as wide as the header, and each
	// row has one field per column.
	width := utf8.RuneCountInString(lines[0])
	for _, l := range lines[1:] {
		if n := utf8.RuneCountInString(l); n != width {
			t.Errorf("line is %d runes wide, header %d:\n%s\n%s", n, width, lines[0], l)
		}
		if f := strings.Fields(l); len(f) != len(tableHeader) {
			t.Errorf("%d fields, want %d: %s", len(f), len(tableHeader), l)
		}
	}
	if f := strings.Fields(lines[3]); f[0] != "std" || f[1] != "1" || f[12] != "-" {
		t.Errorf("std at 1 connection should show - for syscalls/req: %s", lines[3])
	}
	if f := strings.Fields(lines[1]); f[0] != "epoll" || f[3] != "15.0k" || f[4] != "±2%" {
		t.Errorf("first row: %s", lines[1])
	}
}

func TestWriteMarkdown(t *testing.T) {
	res := &Results{Machine: Machine{CPUs: 2, CPUModel: "Test CPU", Kernel: "6.1", GoVersion: "go1.26", Runs: 3, Loops: 1, ServerCPUs: "0", ClientCPUs: "1", Client: ClientBuiltin, DurationS: 0.6, WarmupS: 0.2, Notes: []string{"a machine note"}}, Rows: syntheticRows()}
	res.Rows[0].Notes = []string{"a row note"}
	res.Ratios = Ratios(res.Rows)
	var b bytes.Buffer
	if err := WriteMarkdown(&b, res, Summarize(res.Rows), "readiness compare -runs 3"); err != nil {
		t.Fatal(err)
	}
	md := b.String()
	for _, want := range []string{"# readiness compare", "Test CPU", "readiness compare -runs 3", "## Environment", "## Closed loop", "## Ratios between models", "epoll/gnet", "## Charts", "a machine note", "a row note (1 of 72 rows)"} {
		if !strings.Contains(md, want) {
			t.Errorf("results.md lacks %q", want)
		}
	}
	for _, c := range ChartFiles {
		if !strings.Contains(md, "("+c+")") {
			t.Errorf("results.md does not show %s", c)
		}
	}
	var tableLines int
	for l := range strings.Lines(md) {
		if strings.HasPrefix(l, "|") {
			tableLines++
			if n := strings.Count(l, "|"); n != len(tableHeader)+1 {
				t.Errorf("%d separators, want %d: %s", n, len(tableHeader)+1, l)
			}
		}
	}
	if tableLines != 2+3*4*2 {
		t.Errorf("%d table lines, want %d", tableLines, 2+3*4*2)
	}
}
