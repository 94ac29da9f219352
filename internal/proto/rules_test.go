package proto

import (
	"bytes"
	"strings"
	"testing"
)

// ruleCase is one table test: a whole input, what Serve appends for it and
// the verdict.
type ruleCase struct {
	name string
	in   string
	out  []byte
	v    Verdict
}

// runRules serves each case's input in one piece and checks the answer.
func runRules(t *testing.T, tests []ruleCase) {
	t.Helper()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, v := serveAll([]byte(tc.in))
			if !bytes.Equal(out, tc.out) || v != tc.v {
				t.Errorf("Serve(%.120q)\n got %q, %v\nwant %q, %v", tc.in, out, v, tc.out, tc.v)
			}
		})
	}
}

// TestHost: RFC 9112 §3.2. An HTTP/1.1 request carries exactly one Host
// header; HTTP/1.0 needs none; no request may carry two.
func TestHost(t *testing.T) {
	runRules(t, []ruleCase{
		{"1.1 with host", "GET / HTTP/1.1\r\nHost: a\r\n\r\n", OK, Open},
		{"1.1 host any case", "GET / HTTP/1.1\r\nhOsT: a\r\n\r\n", OK, Open},
		{"1.1 empty host", "GET / HTTP/1.1\r\nHost:\r\n\r\n", OK, Open},
		{"1.1 host among others", "GET / HTTP/1.1\r\nAccept: */*\r\nHost: a\r\nX: y\r\n\r\n", OK, Open},
		{"1.0 without host", "GET / HTTP/1.0\r\n\r\n", OKClose, Close},
		{"1.0 with host", "GET / HTTP/1.0\r\nHost: a\r\n\r\n", OKClose, Close},
		{"1.0 keep-alive without host", "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", OKKeepAlive, Open},

		{"400 1.1 without host", "GET / HTTP/1.1\r\n\r\n", BadRequest, Fail},
		{"400 1.1 head without host", "HEAD / HTTP/1.1\r\nAccept: */*\r\n\r\n", BadRequest, Fail},
		{"400 1.1 two hosts", "GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", BadRequest, Fail},
		{"400 1.1 two hosts any case", "GET / HTTP/1.1\r\nHost: a\r\nHOST: b\r\n\r\n", BadRequest, Fail},
		{"400 1.0 two hosts", "GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n", BadRequest, Fail},
		{"400 host-like name is not host", "GET / HTTP/1.1\r\nHosts: a\r\nX-Host: b\r\n\r\n", BadRequest, Fail},
		{"400 body request without host", "POST / HTTP/1.1\r\nContent-Length: 2\r\n\r\nab", BadRequest, Fail},
		{"answers kept before a missing host", "GET / HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/1.1\r\n\r\n", cat(OK, BadRequest), Fail},
	})
}

// TestFieldValues: RFC 9110 §5.5. CR, LF or NUL inside a field value is a
// 400. A line ends at LF (CRLF or a bare LF), so an LF inside a value can
// only come as an obsolete line folding, which is a 400 too.
func TestFieldValues(t *testing.T) {
	runRules(t, []ruleCase{
		{"tab and space kept", "GET / HTTP/1.1\r\nHost: a\r\nX: a \t b\r\n\r\n", OK, Open},
		{"other controls kept", "GET / HTTP/1.1\r\nHost: a\r\nX: a\x01\x7fb\r\n\r\n", OK, Open},
		{"high bytes kept", "GET / HTTP/1.1\r\nHost: a\r\nX: caf\xc3\xa9\r\n\r\n", OK, Open},
		{"bare LF ends a line", "GET / HTTP/1.1\nHost: a\nX: a\n\n", OK, Open},

		{"400 CR inside", "GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n", BadRequest, Fail},
		{"400 CR at the end", "GET / HTTP/1.1\r\nHost: a\r\nX: a\r\r\n\r\n", BadRequest, Fail},
		{"400 CR alone", "GET / HTTP/1.1\r\nHost: a\r\nX: \r\r\n\r\n", BadRequest, Fail},
		{"400 CR before a bare LF", "GET / HTTP/1.1\nHost: a\nX: a\r\r\n\n", BadRequest, Fail},
		{"400 NUL inside", "GET / HTTP/1.1\r\nHost: a\r\nX: a\x00b\r\n\r\n", BadRequest, Fail},
		{"400 NUL alone", "GET / HTTP/1.1\r\nHost: a\r\nX: \x00\r\n\r\n", BadRequest, Fail},
		{"400 NUL in host", "GET / HTTP/1.1\r\nHost: a\x00b\r\n\r\n", BadRequest, Fail},
		{"400 CR in host", "GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n", BadRequest, Fail},
		{"400 obs-fold", "GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n", BadRequest, Fail},
		{"400 obs-fold with tab", "GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n\tb: c\r\n\r\n", BadRequest, Fail},
		{"400 obs-fold of host", "GET / HTTP/1.1\r\nHost:\r\n a\r\n\r\n", BadRequest, Fail},
	})
}

// TestCheckOrder: each request breaks two rules and gets the answer of the
// one that comes first in the contract's order: the request line (400, then
// 505), the size of the head (431), each header line (400),
// Transfer-Encoding (501), Content-Length (400, then 413), Host (400).
func TestCheckOrder(t *testing.T) {
	pad := "X-Pad: " + strings.Repeat("p", MaxHead) + "\r\n"
	runRules(t, []ruleCase{
		{"request line before the head's size", "G(T / HTTP/1.1\r\n" + pad + "\r\n", BadRequest, Fail},
		{"version before the head's size", "GET / HTTP/2.0\r\n" + pad + "\r\n", VersionNotSupported, Fail},
		{"version before a header line", "GET / HTTP/2.0\r\nno colon\r\n\r\n", VersionNotSupported, Fail},
		{"version before host", "GET / HTTP/1.2\r\n\r\n", VersionNotSupported, Fail},
		{"head's size before a header line", "GET / HTTP/1.1\r\nno colon\r\n" + pad + "\r\n", HeaderTooLarge, Fail},
		{"head's size before a header line, no end", "GET / HTTP/1.1\r\nno colon\r\n" + pad, HeaderTooLarge, Fail},
		{"head's size before transfer-encoding", "GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n" + pad + "\r\n", HeaderTooLarge, Fail},
		{"head's size before content-length", "GET / HTTP/1.1\r\nContent-Length: 2000000\r\n" + pad + "\r\n", HeaderTooLarge, Fail},
		{"head's size before host", "GET / HTTP/1.1\r\n" + pad + "\r\n", HeaderTooLarge, Fail},
		{"header line after transfer-encoding", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nno colon\r\n\r\n", BadRequest, Fail},
		{"field value after transfer-encoding", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nX: \x00\r\n\r\n", BadRequest, Fail},
		{"header line after content-length", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2000000\r\nno colon\r\n\r\n", BadRequest, Fail},
		{"header line before host", "GET / HTTP/1.1\r\nno colon\r\n\r\n", BadRequest, Fail},
		{"transfer-encoding before a bad length", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: x\r\nTransfer-Encoding: chunked\r\n\r\n", NotImplemented, Fail},
		{"transfer-encoding before lengths that differ", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n", NotImplemented, Fail},
		{"transfer-encoding before a large length", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2000000\r\nTransfer-Encoding: chunked\r\n\r\n", NotImplemented, Fail},
		{"transfer-encoding before host", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", NotImplemented, Fail},
		{"bad length before a large one", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2000000\r\nContent-Length: x\r\n\r\n", BadRequest, Fail},
		{"large lengths that differ", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2000000\r\nContent-Length: 3000000\r\n\r\n", BadRequest, Fail},
		{"large lengths that differ past any int64", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999999\r\nContent-Length: 99999999999999999999998\r\n\r\n", BadRequest, Fail},
		{"large lengths that agree", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2000000\r\nContent-Length: 002000000\r\n\r\n", ContentTooLarge, Fail},
		{"large length before host", "POST / HTTP/1.1\r\nContent-Length: 2000000\r\n\r\n", ContentTooLarge, Fail},
		{"large length before two hosts", "POST / HTTP/1.1\r\nHost: a\r\nHost: b\r\nContent-Length: 2000000\r\n\r\n", ContentTooLarge, Fail},
	})
}

// TestHeaderLineWaitsForTheHead: a bad header line is answered only once the
// head is whole (or over MaxHead), since the head's size is checked first;
// that keeps the answer the same however the bytes are split.
func TestHeaderLineWaitsForTheHead(t *testing.T) {
	in := "GET / HTTP/1.1\r\nno colon\r\nHost: a\r\n"
	if out, v := serveAll([]byte(in)); out != nil || v != Open {
		t.Fatalf("incomplete head with a bad line: got %q, %v; want no answer yet", out, v)
	}
	if out, v := serveAll([]byte(in), []byte("\r\n")); !bytes.Equal(out, BadRequest) || v != Fail {
		t.Fatalf("the head completed: got %q, %v; want 400", out, v)
	}
	if out, v := serveAll([]byte(in), []byte(strings.Repeat("x", MaxHead))); !bytes.Equal(out, HeaderTooLarge) || v != Fail {
		t.Fatalf("the head outgrew MaxHead: got %q, %v; want 431", out, v)
	}
}
