package conformance

import (
	"strings"
	"testing"
)

// ruleTests cover the HTTP/1.1 rules of the contract that go beyond the
// request's shape: the Host header (RFC 9112 §3.2), the bytes a field value
// may hold (RFC 9110 §5.5), and the fixed order of the checks, so that a
// request breaking two rules gets the same answer from every model.
func ruleTests() []test {
	return append(exchangeTests(ruleExchanges()),
		test{name: "bad line answered when the head ends", run: testBadLineWaits},
		test{name: "bad line of a head over the limit", run: testBadLineOverLimit},
	)
}

func ruleExchanges() []exchange {
	bad := func(name, send string) exchange {
		return exchange{name: "400 " + name, send: send, want: badRequest, closes: true}
	}
	// pad is a header line that alone takes a head past 8192 bytes.
	pad := bigHeader(8300)
	return []exchange{
		{name: "host", send: "GET / HTTP/1.1\r\nHost: example.com:8080\r\n\r\n", want: ok},
		{name: "host any case", send: "GET / HTTP/1.1\r\nhOST: a\r\n\r\n", want: ok},
		{name: "host empty", send: "GET / HTTP/1.1\r\nHost:\r\n\r\n", want: ok},
		{name: "host last", send: "GET / HTTP/1.1\r\nAccept: */*\r\nX-A: b\r\nHost: a\r\n\r\n", want: ok},
		{name: "controls other than CR and NUL", send: "GET / HTTP/1.1\r\nHost: a\r\nX: a\x01\x1f\x7fb\r\n\r\n", want: ok},
		{name: "bytes above ASCII", send: "GET / HTTP/1.1\r\nHost: a\r\nX: caf\xc3\xa9 \xff\r\n\r\n", want: ok},
		{name: "bare LF lines", send: "GET / HTTP/1.1\nHost: a\nX: b\n\n", want: ok},

		bad("no host", "GET / HTTP/1.1\r\n\r\n"),
		bad("no host head", "HEAD / HTTP/1.1\r\nAccept: */*\r\n\r\n"),
		bad("no host with a body", "POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello"),
		bad("no host, only look-alikes", "GET / HTTP/1.1\r\nX-Host: a\r\nHosts: a\r\n\r\n"),
		bad("two hosts", "GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n"),
		bad("two hosts any case", "GET / HTTP/1.1\r\nhost: a\r\nHOST: b\r\n\r\n"),
		bad("two hosts http1.0", "GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n"),
		bad("CR in a value", "GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n"),
		bad("CR ending a value", "GET / HTTP/1.1\r\nHost: a\r\nX: a\r\r\n\r\n"),
		bad("CR in host", "GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n"),
		bad("NUL in a value", "GET / HTTP/1.1\r\nHost: a\r\nX: a\x00b\r\n\r\n"),
		bad("NUL alone", "GET / HTTP/1.1\r\nHost: a\r\nX: \x00\r\n\r\n"),
		bad("folded value", "GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n"),
		bad("folded host", "GET / HTTP/1.1\r\nHost:\r\n\ta\r\n\r\n"),
		{name: "answers kept before no host", send: get + "HEAD / HTTP/1.1\r\nHost: a\r\n\r\n" + "GET / HTTP/1.1\r\n\r\n" + get,
			want: ok + head(ok) + badRequest, closes: true},
		{name: "answers kept before NUL", send: get + "GET / HTTP/1.1\r\nHost: a\r\nX: \x00\r\n\r\n" + get,
			want: ok + badRequest, closes: true},

		// Two broken rules: the one earlier in the contract's order answers.
		bad("request line before the head's size", "G(T / HTTP/1.1\r\n"+pad+"\r\n"),
		{name: "505 before the head's size", send: "GET / HTTP/2.0\r\n" + pad + "\r\n", want: versionNotSupported, closes: true},
		{name: "505 before a bad line", send: "GET / HTTP/1.2\r\nno colon\r\n\r\n", want: versionNotSupported, closes: true},
		{name: "505 before no host", send: "GET / HTTP/3.0\r\n\r\n", want: versionNotSupported, closes: true},
		{name: "431 before a bad line", send: "GET / HTTP/1.1\r\nno colon\r\n" + pad + "\r\n", want: headerTooLarge, closes: true},
		{name: "431 before NUL", send: "GET / HTTP/1.1\r\nX: \x00\r\n" + pad + "\r\n", want: headerTooLarge, closes: true},
		{name: "431 before 501", send: "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n" + pad + "\r\n", want: headerTooLarge, closes: true},
		{name: "431 before 413", send: "POST / HTTP/1.1\r\nContent-Length: 2000000\r\n" + pad + "\r\n", want: headerTooLarge, closes: true},
		{name: "431 before no host", send: "GET / HTTP/1.1\r\n" + pad + "\r\n", want: headerTooLarge, closes: true},
		bad("bad line before 501", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nno colon\r\n\r\n"),
		bad("NUL before 501", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nX: \x00\r\n\r\n"),
		bad("bad line before 413", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2000000\r\nno colon\r\n\r\n"),
		{name: "501 before a bad length", send: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: x\r\nTransfer-Encoding: chunked\r\n\r\n", want: notImplemented, closes: true},
		{name: "501 before lengths that differ", send: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\nTransfer-Encoding: gzip\r\n\r\n", want: notImplemented, closes: true},
		{name: "501 before 413", send: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2000000\r\nTransfer-Encoding: chunked\r\n\r\n", want: notImplemented, closes: true},
		{name: "501 before no host", send: "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", want: notImplemented, closes: true},
		bad("bad length before 413", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2000000\r\nContent-Length: 1x\r\n\r\n"),
		bad("large lengths that differ", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2000000\r\nContent-Length: 2000001\r\n\r\n"),
		{name: "413 for large lengths that agree", send: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2000000\r\nContent-Length: 02000000\r\n\r\n", want: contentTooLarge, closes: true},
		{name: "413 before no host", send: "POST / HTTP/1.1\r\nContent-Length: 2000000\r\n\r\n", want: contentTooLarge, closes: true},
		{name: "413 before two hosts", send: "POST / HTTP/1.1\r\nHost: a\r\nHost: b\r\nContent-Length: 2000000\r\n\r\n", want: contentTooLarge, closes: true},
	}
}

// testBadLineWaits: a bad header line is judged only once the head is
// whole, since the head's size is checked first; until then the connection
// waits, silent.
func testBadLineWaits(t *testing.T, s *target) {
	s.dial(t).waitThenError(get+"GET / HTTP/1.1\r\nno colon\r\nHost: a\r\n", ok, "\r\n", badRequest)
}

// testBadLineOverLimit: a head with a bad line that then outgrows the limit
// is a 431, however it arrives.
func testBadLineOverLimit(t *testing.T, s *target) {
	s.dial(t).waitThenError("GET / HTTP/1.1\r\nno colon\r\n", "", strings.Repeat("X-More: headers\r\n", 500), headerTooLarge)
}

// waitThenError sends first and expects answered, then silence; then sends
// rest and expects the error response fail and the close.
func (c *client) waitThenError(first, answered, rest, fail string) {
	c.t.Helper()
	c.send(first)
	c.expect(answered)
	c.expectOpen()
	c.send(rest)
	c.expect(fail)
	c.expectClosed()
}
