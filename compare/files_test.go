package compare

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Every contract field is present in every row of results.json, as null
// when unknown, and in results.csv's header.
func TestJSONAndCSVFields(t *testing.T) {
	rows := syntheticRows()[:3]
	rows[1].SyscallsPerReq = nil
	rows[1].note("syscalls_per_req is null: perf is not installed")
	rows[2] = Row{Model: "std", Conns: 1, Pipeline: 1, Run: 1}
	rows[2].fail(errors.New("server did not start"))
	res := &Results{Machine: Machine{CPUs: 2}, Rows: rows}

	var b bytes.Buffer
	if err := WriteJSON(&b, res); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Machine map[string]any   `json:"machine"`
		Rows    []map[string]any `json:"rows"`
	}
	if err := json.Unmarshal(b.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if got.Machine["cpus"] != float64(2) || len(got.Rows) != 3 {
		t.Fatalf("machine %v, %d rows", got.Machine, len(got.Rows))
	}
	fields := contractFields(t)
	for i, r := range got.Rows {
		for _, f := range append(fields, "notes", "allocs_per_req", "gc_count") {
			if _, ok := r[f]; !ok {
				t.Errorf("row %d lacks %q", i, f)
			}
		}
		if notes, ok := r["notes"].([]any); !ok || (i > 0 && len(notes) == 0) {
			t.Errorf("row %d notes = %v", i, r["notes"])
		}
	}
	if got.Rows[1]["syscalls_per_req"] != nil || got.Rows[2]["rps"] != nil || got.Rows[2]["cpu_us_per_req"] != nil {
		t.Errorf("unknown figures are not null: %v / %v", got.Rows[1], got.Rows[2])
	}
	if got.Rows[0]["cpu_us_per_req"] == nil {
		t.Errorf("a measured figure is null: %v", got.Rows[0])
	}

	b.Reset()
	if err := WriteCSV(&b, rows); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&b).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 4 {
		t.Fatalf("%d CSV records, want a header and 3 rows", len(recs))
	}
	for _, f := range fields {
		if !slices.Contains(recs[0], f) {
			t.Errorf("CSV header lacks %q", f)
		}
	}
	col := func(name string) int { return slices.Index(recs[0], name) }
	if recs[2][col("syscalls_per_req")] != "" || recs[1][col("syscalls_per_req")] == "" {
		t.Errorf("CSV syscalls_per_req: %q and %q", recs[1][col("syscalls_per_req")], recs[2][col("syscalls_per_req")])
	}
	if !strings.Contains(recs[3][col("notes")], "not measured: server did not start") {
		t.Errorf("CSV notes: %q", recs[3][col("notes")])
	}
	// The JSON's row fields and the CSV's columns are the same set.
	for f := range got.Rows[0] {
		if !slices.Contains(recs[0], f) {
			t.Errorf("CSV lacks the JSON field %q", f)
		}
	}
}

// WriteFiles writes every file, and each chart is a well-formed SVG with
// its title.
func TestWriteFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	res := &Results{Machine: Machine{CPUs: 2, CPUModel: "Test CPU", Runs: 3, Loops: 1, ServerCPUs: "0", ClientCPUs: "1", Client: ClientBuiltin}, Rows: syntheticRows()}
	if err := WriteFiles(dir, res, "readiness compare"); err != nil {
		t.Fatal(err)
	}
	for _, f := range ResultFiles {
		if fi, err := os.Stat(filepath.Join(dir, f)); err != nil || fi.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
	titles := map[string]string{"throughput.svg": "Throughput", "cpu.svg": "CPU time per request", "latency.svg": "Latency percentiles"}
	for _, f := range ChartFiles {
		checkSVG(t, filepath.Join(dir, f), titles[f], "pipeline 16", "concurrent connections", "epoll", "std")
	}
}

// With a sweep, WriteFiles adds the sweep charts with each knee ringed,
// results.md the sweep table, the knees and both rules, and one HDR log
// per row that has a histogram, which hdrhistogram-go reads back.
func TestWriteFilesSweep(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	rows := append(syntheticRows(), syntheticSweep()...)
	h := hdrhistogram.New(1, 60_000_000, 3)
	for v := int64(1); v <= 1000; v++ {
		h.RecordValue(v * 10)
	}
	rows[0].latency, rows[0].began = h, time.Now()
	last := len(rows) - 1
	rows[last].latency, rows[last].service, rows[last].began = h, h, time.Now()
	res := &Results{Machine: Machine{CPUs: 2, Runs: 3, Loops: 1, ServerCPUs: "0", ClientCPUs: "1", Client: ClientBuiltin}, Rows: rows}
	res.Knees = Knees(Summarize(rows))
	if err := WriteFiles(dir, res, "readiness compare -rates auto"); err != nil {
		t.Fatal(err)
	}
	checkSVG(t, filepath.Join(dir, "sweep_cpu.svg"), "CPU time per request against offered load", "100 connections, pipeline 1", "offered requests per second", "user", "system", "epoll")
	checkSVG(t, filepath.Join(dir, "sweep_latency.svg"), "knees ringed", "p99 corrected", "p99 service", "knee")
	md, err := os.ReadFile(filepath.Join(dir, "results.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"## Open loop: the sweep", "### Knees", "epoll at 100 conns, pipeline 1: 45.0k/s", KneeRules, ClientRules, "(sweep_latency.svg)", "<-knee"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("results.md lacks %q", want)
		}
	}
	logs, err := os.ReadDir(filepath.Join(dir, HDRDir))
	if err != nil || len(logs) != 2 {
		t.Fatalf("hdr logs %v, %v: want 2", logs, err)
	}
	f, err := os.Open(filepath.Join(dir, HDRDir, hdrName(rows[last])))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := hdrhistogram.NewHistogramLogReader(f)
	var tags []string
	for {
		got, err := r.NextIntervalHistogram()
		if err != nil {
			t.Fatal(err)
		}
		if got == nil {
			break
		}
		if got.TotalCount() != 1000 || got.Max() < 9990 {
			t.Errorf("histogram %q read back with %d values, max %d", got.Tag(), got.TotalCount(), got.Max())
		}
		tags = append(tags, got.Tag())
	}
	if !slices.Equal(tags, []string{"corrected", "service"}) {
		t.Errorf("tags %v, want corrected and service", tags)
	}
}

// Charts survive degenerate matrices: a single cell, and rows with
// nothing measured.
func TestChartsDegenerate(t *testing.T) {
	one := syntheticRows()[:1]
	failed := []Row{{Model: "epoll", Conns: 10, Pipeline: 1, Run: 1}}
	failed[0].fail(errors.New("no server"))
	for name, rows := range map[string][]Row{"one": one, "failed": failed, "empty": nil} {
		dir := t.TempDir()
		res := &Results{Machine: Machine{Runs: 1}, Rows: rows}
		if err := WriteCharts(dir, res, Summarize(rows)); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for _, f := range ChartFiles {
			checkSVG(t, filepath.Join(dir, f))
		}
	}
}

// checkSVG parses file as XML with an svg root and looks for each text.
func checkSVG(t *testing.T, file string, texts ...string) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	dec := xml.NewDecoder(bytes.NewReader(b))
	var root string
	var text strings.Builder
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("%s: not well-formed XML: %v", file, err)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			if root == "" {
				root = tok.Name.Local
			}
		case xml.CharData:
			text.Write(tok)
			text.WriteByte('\n')
		}
	}
	if root != "svg" {
		t.Errorf("%s: root element %q", file, root)
	}
	for _, want := range texts {
		if !strings.Contains(text.String(), want) {
			t.Errorf("%s has no text %q", file, want)
		}
	}
	if !bytes.Contains(b, []byte("sans-serif")) {
		t.Errorf("%s names no fallback font", file)
	}
}
