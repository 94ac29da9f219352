package conformance

import (
	"strings"
	"testing"
)

// exchange is one rule of the wire: what a fresh connection sends, the exact
// bytes it must get back, and whether the server then keeps the connection
// open or ends it.
type exchange struct {
	name   string
	send   string
	want   string
	closes bool
}

// check runs the exchange on a fresh connection. A connection that must stay
// open has to stay silent and then answer one more request.
func (x exchange) check(t *testing.T, s *target) {
	t.Helper()
	c := s.dial(t)
	c.send(x.send)
	c.expect(x.want)
	if x.closes {
		c.expectClosed()
		return
	}
	c.expectOpen()
	c.send(get)
	c.expect(ok)
}

// exchangeTests turns exchanges into subtests.
func exchangeTests(xs []exchange) []test {
	tests := make([]test, len(xs))
	for i, x := range xs {
		tests[i] = test{name: x.name, run: x.check}
	}
	return tests
}

// wireTests cover the contract's wire rules as a client sees them; the
// rules about the server's own socket (TCP_NODELAY, one write per batch) are
// in sockets.go, and errors, closes and timeouts in their own files.
func wireTests() []test {
	return exchangeTests([]exchange{
		{name: "get", send: get, want: ok},
		{name: "minimal", send: "GET / HTTP/1.1\r\nHost: x\r\n\r\n", want: ok},
		{name: "methods", want: strings.Repeat(ok, 8), send: "" +
			"POST / HTTP/1.1\r\nHost: x\r\n\r\n" +
			"PUT /x HTTP/1.1\r\nHost: x\r\n\r\n" +
			"DELETE /x HTTP/1.1\r\nHost: x\r\n\r\n" +
			"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n" +
			"PATCH /x HTTP/1.1\r\nHost: x\r\n\r\n" +
			"BREW /pot HTTP/1.1\r\nHost: x\r\n\r\n" +
			"M-SEARCH * HTTP/1.1\r\nHost: x\r\n\r\n" +
			"get / HTTP/1.1\r\nHost: x\r\n\r\n"},
		{name: "targets", want: strings.Repeat(ok, 5), send: "" +
			"GET /a/b/c?d=e&f=g#h HTTP/1.1\r\nHost: x\r\n\r\n" +
			"GET http://example.com:8080/x HTTP/1.1\r\nHost: x\r\n\r\n" +
			"GET %2F%00 HTTP/1.1\r\nHost: x\r\n\r\n" +
			"GET /" + strings.Repeat("t", 4000) + " HTTP/1.1\r\nHost: x\r\n\r\n" +
			"CONNECT example.com:443 HTTP/1.1\r\nHost: x\r\n\r\n"},
		{name: "headers", want: ok, send: "GET / HTTP/1.1\r\nHost: localhost\r\nUser-Agent: conformance\r\n" +
			"Accept: */*\r\nX-Empty:\r\nX-Spaces:   a b  \r\nX-Tab:\tv\r\n\r\n"},
		{name: "head", send: "HEAD / HTTP/1.1\r\nHost: localhost\r\n\r\n", want: head(ok)},
		{name: "head then get", send: "HEAD / HTTP/1.1\r\nHost: x\r\n\r\n" + get, want: head(ok) + ok},
		{name: "head http1.0", send: "HEAD / HTTP/1.0\r\n\r\n", want: head(okClose), closes: true},
		{name: "head close", send: "HEAD / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", want: head(okClose), closes: true},
		{name: "head http1.0 keep-alive", send: "HEAD / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", want: head(okKeepAlive)},

		{name: "connection close", send: "GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n", want: okClose, closes: true},
		{name: "connection close upper", send: "GET / HTTP/1.1\r\nHost: x\r\nCONNECTION: CLOSE\r\n\r\n", want: okClose, closes: true},
		{name: "connection close lower", send: "GET / HTTP/1.1\r\nHost: x\r\nconnection: close\r\n\r\n", want: okClose, closes: true},
		{name: "connection close mixed", send: "GET / HTTP/1.1\r\nHost: x\r\ncOnNeCtIoN: ClOsE\r\n\r\n", want: okClose, closes: true},
		{name: "connection close no space", send: "GET / HTTP/1.1\r\nHost: x\r\nConnection:close\r\n\r\n", want: okClose, closes: true},
		{name: "connection close padded", send: "GET / HTTP/1.1\r\nHost: x\r\nConnection: \t close \t\r\n\r\n", want: okClose, closes: true},
		{name: "connection close listed", send: "GET / HTTP/1.1\r\nHost: x\r\nConnection: keep-alive, close\r\n\r\n", want: okClose, closes: true},
		{name: "connection close after others", send: "GET / HTTP/1.1\r\nHost: a\r\nAccept: */*\r\nConnection: close\r\nX-After: 1\r\n\r\n", want: okClose, closes: true},
		{name: "connection keep-alive http1.1", send: "GET / HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n", want: ok},
		{name: "connection other http1.1", send: "GET / HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\n\r\n", want: ok},
		{name: "closed header names", send: "GET / HTTP/1.1\r\nHost: x\r\nX-Connection: close\r\nConnection-X: close\r\nX: Connection: close\r\n\r\n", want: ok},

		{name: "http1.0", send: "GET / HTTP/1.0\r\n\r\n", want: okClose, closes: true},
		{name: "http1.0 host", send: "GET / HTTP/1.0\r\nHost: localhost\r\n\r\n", want: okClose, closes: true},
		{name: "http1.0 keep-alive", send: "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", want: okKeepAlive},
		{name: "http1.0 keep-alive case", send: "GET / HTTP/1.0\r\nCONNECTION: Keep-Alive\r\n\r\n", want: okKeepAlive},
		{name: "http1.0 keep-alive twice", want: okKeepAlive + okKeepAlive + okClose, closes: true, send: "" +
			"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n" +
			"POST / HTTP/1.0\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nhi" +
			"GET / HTTP/1.0\r\n\r\n"},
		{name: "http1.0 keep-alive and close", send: "GET / HTTP/1.0\r\nConnection: keep-alive\r\nConnection: close\r\n\r\n", want: okClose, closes: true},

		{name: "body", send: "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello" + get, want: ok + ok},
		{name: "body zero", send: "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n" + get, want: ok + ok},
		{name: "body looks like a request", send: "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 18\r\n\r\nGET / HTTP/1.1\r\n\r\n", want: ok},
		{name: "body looks like garbage", send: "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 12\r\n\r\n\x00\xff\r\n\r\nBAD \n\n" + get, want: ok + ok},
		{name: "body length repeated", send: "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\ncontent-length: 3\r\n\r\nabc" + get, want: ok + ok},
		{name: "body length leading zeros", send: "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0003\r\n\r\nabc" + get, want: ok + ok},
		{name: "body on get", send: "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nbody" + get, want: ok + ok},
		{name: "body on head", send: "HEAD / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nbody" + get, want: head(ok) + ok},
		{name: "body with close", send: "POST / HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 4\r\n\r\nbody", want: okClose, closes: true},
		{name: "body 1MiB", send: "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1048576\r\n\r\n" + strings.Repeat("b", 1<<20) + get, want: ok + ok},

		{name: "pipeline", want: ok + head(ok) + ok + okKeepAlive + ok, send: get +
			"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n" +
			"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc" +
			"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n" +
			get},
		{name: "pipeline stops at close", want: ok + okClose, closes: true, send: get +
			"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" +
			get + get},
		{name: "pipeline stops at http1.0", want: ok + okClose, closes: true, send: get +
			"GET / HTTP/1.0\r\n\r\n" + get},
	})
}
