package conformance

import (
	"context"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Real clients: programs nobody here wrote must see zero failures. Each is
// looked up on PATH; a missing one skips its test locally and fails it under
// CI (CI=true), so CI always runs every client.

func clientTests() []test {
	return []test{
		{name: "curl", run: testCurl},
		{name: "net/http", run: testNetHTTP},
		{name: "net/http keep-alive", run: testNetHTTPKeepAlive},
		{name: "net/http concurrent", concurrent: true, run: testNetHTTPConcurrent},
		{name: "wrk", run: testWrk},
		{name: "ab keep-alive", run: testAbKeepAlive},
		{name: "ab closing", run: testAbClosing},
		{name: "h2load pipelined", run: testH2load},
	}
}

// program runs a client program with a bounded time and returns its
// combined output, failing t if it cannot run or exits nonzero.
func program(t *testing.T, name string, args ...string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not installed (CI requires every client): %v", name, err)
		}
		t.Skipf("%s is not installed: %v", name, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, path, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

func (s *target) url() string { return "http://" + s.addr + "/" }

// conns is how many connections a load client may open: one for a server
// that serves one at a time.
func (s *target) conns(n int) string {
	if s.model.Serial {
		n = 1
	}
	return strconv.Itoa(n)
}

func testCurl(t *testing.T, s *target) {
	u := s.url()
	w := []string{"-sS", "--http1.1", "--max-time", "20", "-w", "|%{http_code} %{num_connects} %{size_download}\n"}

	// Five requests in one invocation: one connection, reused.
	got := program(t, "curl", append(w, u, u+"a", u+"b?c=d", u, u)...)
	want := body + "|200 1 13\n" + strings.Repeat(body+"|200 0 13\n", 4)
	if got != want {
		t.Errorf("curl, five GETs: got %q, want %q", got, want)
	}

	// HTTP/1.0 without keep-alive: a new connection for every request.
	got = program(t, "curl", append(w, "--http1.0", u, u)...)
	want = strings.Repeat(body+"|200 1 13\n", 2)
	if got != want {
		t.Errorf("curl -0, two GETs: got %q, want %q", got, want)
	}

	// A POST with a body, then a GET on the same connection.
	got = program(t, "curl", append(w, "--data-binary", strings.Repeat("x", 100000), u, "--next", "-sS", "-w", "|%{num_connects}\n", u)...)
	want = body + "|200 1 13\n" + body + "|0\n"
	if got != want {
		t.Errorf("curl, POST then GET: got %q, want %q", got, want)
	}

	// HEAD: curl prints the head it received, byte for byte.
	got = program(t, "curl", "-sS", "--http1.1", "--max-time", "20", "-I", u)
	if got != head(ok) {
		t.Errorf("curl -I: got %q, want %q", got, head(ok))
	}

	// Connection: close asked by the client: the answer says it too.
	got = program(t, "curl", "-sS", "--http1.1", "--max-time", "20", "-i", "-H", "Connection: close", u)
	if got != okClose {
		t.Errorf("curl -H 'Connection: close': got %q, want %q", got, okClose)
	}
}

// wrk prints, when something went wrong, a "Socket errors" line and a
// "Non-2xx or 3xx responses" line.
var (
	wrkRequests = regexp.MustCompile(`(\d+) requests in`)
	wrkSocket   = regexp.MustCompile(`Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)`)
	wrkNon2xx   = regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)`)
)

func testWrk(t *testing.T, s *target) {
	out := program(t, "wrk", "-t1", "-c"+s.conns(10), "-d1s", s.url())
	m := wrkRequests.FindStringSubmatch(out)
	if m == nil || m[1] == "0" {
		t.Fatalf("wrk made no requests:\n%s", out)
	}
	if m := wrkSocket.FindStringSubmatch(out); m != nil && (m[1] != "0" || m[2] != "0" || m[3] != "0" || m[4] != "0") {
		t.Errorf("wrk saw socket errors (%s):\n%s", m[0], out)
	}
	if m := wrkNon2xx.FindStringSubmatch(out); m != nil {
		t.Errorf("wrk saw wrong answers (%s):\n%s", m[0], out)
	}
}

// field returns the number after label on a line of ab's report, or -1.
func field(out, label string) int {
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(label) + `:\s+(\d+)`).FindStringSubmatch(out)
	if m == nil {
		return -1
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// checkAb checks ab's report of n requests.
func checkAb(t *testing.T, out string, n int, keepAlive bool) {
	t.Helper()
	want := map[string]int{"Complete requests": n, "Failed requests": 0}
	if keepAlive {
		want["Keep-Alive requests"] = n
	}
	for label, v := range want {
		if got := field(out, label); got != v {
			t.Errorf("ab: %s %d, want %d", label, got, v)
		}
	}
	// ab prints these lines only when something went wrong.
	for _, label := range []string{"Write errors", "Non-2xx responses"} {
		if got := field(out, label); got > 0 || strings.Contains(out, label+":") && got != 0 {
			t.Errorf("ab: %s %d, want none", label, got)
		}
	}
	if t.Failed() {
		t.Logf("ab's report:\n%s", out)
	}
}

func testAbKeepAlive(t *testing.T, s *target) {
	// ab -k sends HTTP/1.0 requests with Connection: Keep-Alive.
	checkAb(t, program(t, "ab", "-q", "-k", "-n", "2000", "-c", s.conns(10), s.url()), 2000, true)
}

func testAbClosing(t *testing.T, s *target) {
	// Without -k, every HTTP/1.0 request has a connection of its own.
	checkAb(t, program(t, "ab", "-q", "-n", "500", "-c", s.conns(10), s.url()), 500, false)
}

var (
	h2Requests = regexp.MustCompile(`requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout`)
	h2Status   = regexp.MustCompile(`status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx`)
)

func testH2load(t *testing.T, s *target) {
	const n = "2000"
	out := program(t, "h2load", "--h1", "-n", n, "-c", s.conns(10), "-m", "16", s.url())
	m := h2Requests.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("h2load printed no request counts:\n%s", out)
	}
	if m[1] != n || m[4] != n || m[5] != "0" || m[6] != "0" || m[7] != "0" {
		t.Errorf("h2load: %s; want %s succeeded, 0 failed, 0 errored, 0 timeout\n%s", m[0], n, out)
	}
	if m := h2Status.FindStringSubmatch(out); m == nil || m[1] != n {
		t.Errorf("h2load: want %s 2xx answers\n%s", n, out)
	}
}
