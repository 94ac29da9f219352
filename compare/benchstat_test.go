package compare

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"unicode"
)

// benchResult is one parsed benchmark line.
type benchResult struct {
	name   string
	iters  int
	values map[string]float64
}

// parseBenchmarks reads the Go benchmark format
// (go.dev/design/14313-benchmark-format) as benchstat does: configuration
// lines "key: value" with a key starting in lower case and holding no
// space; result lines of "Benchmark", a name, an iteration count and pairs
// of value and unit; anything else is ignored, so a line that was meant
// as a result but breaks the format comes back as an error here.
func parseBenchmarks(text string) (config map[string]string, results []benchResult, err error) {
	config = map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(text))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if strings.HasPrefix(line, "Benchmark") {
			r, err := parseResult(line)
			if err != nil {
				return nil, nil, fmt.Errorf("line %d: %w: %q", n, err, line)
			}
			results = append(results, r)
			continue
		}
		key, value, ok := strings.Cut(line, ":")
		if !ok || key == "" || !unicode.IsLower(rune(key[0])) || strings.ContainsAny(key, " \t") {
			return nil, nil, fmt.Errorf("line %d is neither a result nor a configuration line: %q", n, line)
		}
		config[key] = strings.TrimSpace(value)
	}
	return config, results, sc.Err()
}

func parseResult(line string) (benchResult, error) {
	f := strings.Fields(line)
	if len(f) < 4 || len(f)%2 != 0 {
		return benchResult{}, errors.New("want a name, an iteration count and value-unit pairs")
	}
	name := strings.TrimPrefix(f[0], "Benchmark")
	if name == "" || !unicode.IsUpper(rune(name[0])) {
		return benchResult{}, errors.New("the name after Benchmark must start with an upper-case letter")
	}
	iters, err := strconv.Atoi(f[1])
	if err != nil || iters < 1 {
		return benchResult{}, fmt.Errorf("iteration count %q", f[1])
	}
	r := benchResult{name: f[0], iters: iters, values: map[string]float64{}}
	for i := 2; i < len(f); i += 2 {
		v, err := strconv.ParseFloat(f[i], 64)
		if err != nil {
			return benchResult{}, fmt.Errorf("value %q", f[i])
		}
		if _, dup := r.values[f[i+1]]; dup {
			return benchResult{}, fmt.Errorf("unit %q twice", f[i+1])
		}
		r.values[f[i+1]] = v
	}
	return r, nil
}

func TestWriteBenchmarks(t *testing.T) {
	rows := syntheticRows()[:4]
	rows[1].SyscallsPerReq = nil
	rows[2].fail(errors.New("no server"))
	rows[3].Model = "a b/c"
	res := &Results{Machine: Machine{OS: "linux", Arch: "amd64", CPUModel: "Test CPU"}, Rows: rows}
	var b bytes.Buffer
	if err := WriteBenchmarks(&b, res); err != nil {
		t.Fatal(err)
	}
	config, results, err := parseBenchmarks(b.String())
	if err != nil {
		t.Fatalf("%v\n%s", err, b.String())
	}
	if config["goos"] != "linux" || config["cpu"] != "Test CPU" || config["pkg"] == "" {
		t.Errorf("configuration %v", config)
	}
	if len(results) != 3 {
		t.Fatalf("%d results, want 3 (the failed row has none):\n%s", len(results), b.String())
	}
	r := results[0]
	want := fmt.Sprintf("BenchmarkCompare/model=epoll/conns=%d/pipeline=%d", rows[0].Conns, rows[0].Pipeline)
	if r.name != want || int64(r.iters) != rows[0].Requests {
		t.Errorf("got %s %d, want %s %d", r.name, r.iters, want, rows[0].Requests)
	}
	for unit, v := range map[string]float64{"ns/op": 1e9 / *rows[0].RPS, "req/s": *rows[0].RPS, "cpu-us/op": *rows[0].CPUusPerReq, "syscalls/op": *rows[0].SyscallsPerReq, "p99-us": *rows[0].P99us, "threads": 5} {
		if got := r.values[unit]; got == 0 || (got-v)/v > 1e-5 || (v-got)/v > 1e-5 {
			t.Errorf("%s = %v, want %v", unit, got, v)
		}
	}
	if _, ok := results[1].values["syscalls/op"]; ok {
		t.Errorf("an unknown figure was written: %v", results[1].values)
	}
	if results[2].name != "BenchmarkCompare/model=a_b_c/conns=1/pipeline=16" {
		t.Errorf("name %q", results[2].name)
	}
}

// The parser itself refuses what benchstat would not read as a result.
func TestParseBenchmarksRefuses(t *testing.T) {
	for _, line := range []string{
		"BenchmarkCompare/x 10 5",
		"BenchmarkCompare/x ten 5 ns/op",
		"Benchmarkcompare 10 5 ns/op",
		"BenchmarkCompare/x 10 5 ns/op 6 ns/op",
		"Model: x",
	} {
		if _, _, err := parseBenchmarks(line); err == nil {
			t.Errorf("%q parsed", line)
		}
	}
}
