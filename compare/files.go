package compare

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// The files WriteFiles writes into the output directory.
var (
	ResultFiles = []string{"results.json", "results.csv", "results.md"}
	ChartFiles  = []string{"throughput.svg", "cpu.svg", "latency.svg"}
)

// WriteFiles writes results.json, results.csv, results.md, the SVG
// charts and the HDR logs (under hdr/) into dir, creating it. command is the command line shown in
// results.md.
func WriteFiles(dir string, res *Results, command string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	write := func(name string, fill func(io.Writer) error) error {
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			return err
		}
		if err := fill(f); err != nil {
			f.Close()
			return fmt.Errorf("%s: %w", name, err)
		}
		return f.Close()
	}
	sums := Summarize(res.Rows)
	if err := write("results.json", func(w io.Writer) error { return WriteJSON(w, res) }); err != nil {
		return err
	}
	if err := write("results.csv", func(w io.Writer) error { return WriteCSV(w, res.Rows) }); err != nil {
		return err
	}
	if err := write("results.md", func(w io.Writer) error { return WriteMarkdown(w, res, sums, command) }); err != nil {
		return err
	}
	if err := WriteCharts(dir, res, sums); err != nil {
		return err
	}
	if err := writeSweepCharts(dir, res, sums); err != nil {
		return err
	}
	return writeHDR(dir, res.Rows)
}

// WriteJSON writes the results, indented. Rows without notes carry an
// empty list rather than null.
func WriteJSON(w io.Writer, res *Results) error {
	out := *res
	out.Rows = make([]Row, len(res.Rows))
	for i, r := range res.Rows {
		if r.Notes == nil {
			r.Notes = []string{}
		}
		out.Rows[i] = r
	}
	if out.Machine.Notes == nil {
		out.Machine.Notes = []string{}
	}
	if out.Knees == nil {
		out.Knees = []Knee{}
	}
	if out.Ratios == nil {
		out.Ratios = []Ratio{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// csvColumns are results.csv's columns: the JSON fields of a row, in
// order (server, added last, after notes, so no earlier column moved). An unknown figure is an empty cell; notes are joined by "; ".
var csvColumns = []string{
	"model", "conns", "pipeline", "run", "client", "net", "mode", "offered_rps", "requests", "rps", "errors",
	"p50_us", "p90_us", "p99_us", "p999_us", "max_us",
	"p50_service_us", "p90_service_us", "p99_service_us", "p999_service_us", "max_service_us",
	"server_cpu_util", "client_cpu_util", "server_wait", "client_wait", "send_lag_p99_us", "conns_held", "client_bound",
	"cpu_us_per_req", "user_us_per_req", "sys_us_per_req", "syscalls_per_req", "ctxsw_per_req",
	"allocs_per_req", "alloc_bytes_per_req", "gc_count",
	"rss_bytes", "peak_rss_bytes", "threads",
	"window_s", "cpu_ticks", "syscalls", "voluntary_ctxsw", "involuntary_ctxsw", "notes",
	"server",
}

// WriteCSV writes one line per row under a header.
func WriteCSV(w io.Writer, rows []Row) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(csvColumns); err != nil {
		return err
	}
	f := func(p *float64) string {
		if p == nil {
			return ""
		}
		return strconv.FormatFloat(*p, 'f', -1, 64)
	}
	i := func(p *int64) string {
		if p == nil {
			return ""
		}
		return strconv.FormatInt(*p, 10)
	}
	for _, r := range rows {
		var threads *int64
		if r.Threads != nil {
			threads = ptr(int64(*r.Threads))
		}
		var held *int64
		if r.ConnsHeld != nil {
			held = ptr(int64(*r.ConnsHeld))
		}
		rec := []string{
			r.Model, strconv.Itoa(r.Conns), strconv.Itoa(r.Pipeline), strconv.Itoa(r.Run), r.Client,
			r.Net, r.Mode, f(r.OfferedRPS),
			strconv.FormatInt(r.Requests, 10), f(r.RPS), strconv.FormatInt(r.Errors, 10),
			f(r.P50us), f(r.P90us), f(r.P99us), f(r.P999us), f(r.MaxUs),
			f(r.P50ServiceUs), f(r.P90ServiceUs), f(r.P99ServiceUs), f(r.P999ServiceUs), f(r.MaxServiceUs),
			f(r.ServerCPUUtil), f(r.ClientCPUUtil), f(r.ServerWait), f(r.ClientWait), f(r.SendLagP99us), i(held), strconv.FormatBool(r.ClientBound),
			f(r.CPUusPerReq), f(r.UserUsPerReq), f(r.SysUsPerReq), f(r.SyscallsPerReq), f(r.CtxswPerReq),
			f(r.AllocsPerReq), f(r.AllocBytesPerReq), i(r.GCCount),
			i(r.RSSBytes), i(r.PeakRSSBytes), i(threads),
			f(r.WindowS), i(r.CPUTicks), i(r.Syscalls), i(r.Voluntary), i(r.Involuntary),
			strings.Join(r.Notes, "; "),
			r.Server,
		}
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}
