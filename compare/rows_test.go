package compare

import (
	"os"
	"strings"
	"testing"
)

// syntheticRows is a full matrix of plausible rows: three models, four
// connection counts, pipeline 1 and 16, three runs, with figures that
// differ by model, so charts and summaries have something to show.
func syntheticRows() []Row {
	models := []string{"epoll", "gnet", "std"}
	var rows []Row
	for run := 1; run <= 3; run++ {
		for _, c := range []int{1, 10, 100, 1000} {
			for _, p := range []int{1, 16} {
				for mi, m := range models {
					f := 1 + 0.15*float64(mi) + 0.02*float64(run-2)
					rps := 60000.0 * float64(p) / (f * (1 + 3/float64(c)))
					if p > 1 {
						rps = rps / 8
					}
					lat := 1e6 * float64(c*p) / rps
					r := Row{Model: m, Conns: c, Pipeline: p, Run: run, Client: ClientBuiltin,
						Requests: int64(rps * 0.7), RPS: ptr(rps),
						P50us: ptr(lat), P90us: ptr(lat * 1.3), P99us: ptr(lat * 2), P999us: ptr(lat * 3.5), MaxUs: ptr(lat * 6),
						UserUsPerReq: ptr(2 * f / float64(p)), SysUsPerReq: ptr(9 * f / float64(p)),
						SyscallsPerReq: ptr(2.1 * f), CtxswPerReq: ptr(0.01 * f),
						RSSBytes: ptr(int64(8<<20 + c*4096*mi)), PeakRSSBytes: ptr(int64(9<<20 + c*4096*mi)), Threads: ptr(5 + mi),
						Notes: []string{}}
					r.CPUusPerReq = ptr(*r.UserUsPerReq + *r.SysUsPerReq)
					rows = append(rows, r)
				}
			}
		}
	}
	return rows
}

// contractFields are the fields CONTRACT.md requires in every row of
// results.json, one per line in testdata.
func contractFields(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("testdata/contract_fields.txt")
	if err != nil {
		t.Fatal(err)
	}
	return strings.Fields(string(b))
}
