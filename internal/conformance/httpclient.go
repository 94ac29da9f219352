package conformance

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// httpClient returns a net/http client of its own whose idle connections
// are closed when t ends, so they count as neither fd nor goroutine leaks.
func httpClient(t *testing.T) *http.Client {
	tr := &http.Transport{MaxIdleConnsPerHost: 64, DisableCompression: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: ioTimeout}
}

// do makes one request and checks the whole answer as net/http sees it.
// It reports whether the connection was a reused one.
func do(c *http.Client, method, url string, reqBody string) (reused bool, err error) {
	var rd io.Reader
	if reqBody != "" {
		rd = strings.NewReader(reqBody)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		return false, err
	}
	req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
		GotConn: func(info httptrace.GotConnInfo) { reused = info.Reused },
	}))
	resp, err := c.Do(req)
	if err != nil {
		return false, err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return reused, fmt.Errorf("%s %s: body: %w", method, url, err)
	}
	want := body
	if method == http.MethodHead {
		want = ""
	}
	switch {
	case resp.StatusCode != http.StatusOK || resp.Proto != "HTTP/1.1":
		return reused, fmt.Errorf("%s %s: %s %s, want HTTP/1.1 200 OK", method, url, resp.Proto, resp.Status)
	case string(b) != want:
		return reused, fmt.Errorf("%s %s: body %q, want %q", method, url, b, want)
	case resp.Header.Get("Content-Type") != "text/plain" || resp.ContentLength != int64(len(body)):
		return reused, fmt.Errorf("%s %s: Content-Type %q, length %d; want text/plain, %d", method, url, resp.Header.Get("Content-Type"), resp.ContentLength, len(body))
	case len(resp.Header) != 2:
		return reused, fmt.Errorf("%s %s: headers %v, want only Content-Type and Content-Length", method, url, resp.Header)
	case resp.Close:
		return reused, fmt.Errorf("%s %s: the server asked to close a keep-alive connection", method, url)
	}
	return reused, nil
}

func testNetHTTP(t *testing.T, s *target) {
	c := httpClient(t)
	for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodDelete} {
		if _, err := do(c, m, s.url()+"path?q=1", ""); err != nil {
			t.Error(err)
		}
	}
	if _, err := do(c, http.MethodPost, s.url(), strings.Repeat("p", 200000)); err != nil {
		t.Error(err)
	}
}

// testNetHTTPKeepAlive: many requests in turn all travel on one connection.
func testNetHTTPKeepAlive(t *testing.T, s *target) {
	c := httpClient(t)
	fresh := 0
	for i := range 300 {
		method, reqBody := http.MethodGet, ""
		switch i % 3 {
		case 1:
			method = http.MethodHead
		case 2:
			method, reqBody = http.MethodPost, "form=value"
		}
		reused, err := do(c, method, s.url(), reqBody)
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		if !reused {
			fresh++
		}
	}
	// net/http gives up reusing a connection whose request write it has not
	// seen finish within 50 ms of the answer (a busy machine can delay that
	// goroutine), so allow a few fresh ones; a server that closes kept-alive
	// connections shows up as dozens.
	if fresh < 1 || fresh > 3 {
		t.Fatalf("300 requests in turn used %d connections, want 1 kept alive (3 at most)", fresh)
	}
	if fresh > 1 {
		t.Logf("300 requests in turn used %d connections", fresh)
	}
}

// testNetHTTPConcurrent: ten goroutines share one client.
func testNetHTTPConcurrent(t *testing.T, s *target) {
	c := httpClient(t)
	var wg sync.WaitGroup
	var failed atomic.Int64
	deadline := time.Now().Add(30 * time.Second)
	for g := range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 100 && time.Now().Before(deadline); i++ {
				if _, err := do(c, http.MethodGet, fmt.Sprintf("%s%d/%d", s.url(), g, i), ""); err != nil {
					if failed.Add(1) <= 3 {
						t.Error(err)
					}
				}
			}
		}()
	}
	wg.Wait()
	if n := failed.Load(); n > 0 {
		t.Fatalf("%d of 1000 requests failed", n)
	}
}
