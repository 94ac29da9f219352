package conformance

import (
	"strings"
	"testing"
	"time"
)

// bigHeader returns a header line "X-Big: vvv…\r\n" of exactly n bytes.
func bigHeader(n int) string {
	const prefix, suffix = "X-Big: ", "\r\n"
	return prefix + strings.Repeat("v", n-len(prefix)-len(suffix)) + suffix
}

// headOf returns a GET head of exactly n bytes (request line, headers and
// the empty line), padded with one large header.
func headOf(n int) string {
	const line = "GET / HTTP/1.1\r\nHost: x\r\n"
	return line + bigHeader(n-len(line)-2) + "\r\n"
}

// errorExchanges are the requests the contract answers with an error: the
// exact error bytes, then the server half-closes (the client reads EOF).
func errorExchanges() []exchange {
	bad := func(name, send string) exchange {
		return exchange{name: "400 " + name, send: send, want: badRequest, closes: true}
	}
	return []exchange{
		bad("no version", "GET /\r\n\r\n"),
		bad("no target", "GET HTTP/1.1\r\n\r\n"),
		bad("only method", "GET\r\n\r\n"),
		bad("empty target", "GET  HTTP/1.1\r\n\r\n"),
		bad("leading space", " GET / HTTP/1.1\r\n\r\n"),
		bad("double space", "GET  / HTTP/1.1\r\n\r\n"),
		bad("space in target", "GET /a b HTTP/1.1\r\n\r\n"),
		bad("trailing space", "GET / HTTP/1.1 \r\n\r\n"),
		bad("extra word", "GET / HTTP/1.1 extra\r\n\r\n"),
		bad("lower-case version", "GET / http/1.1\r\n\r\n"),
		bad("short version", "GET / HTTP/1\r\n\r\n"),
		bad("long version", "GET / HTTP/1.10\r\n\r\n"),
		bad("letter version", "GET / HTTP/x.y\r\n\r\n"),
		bad("not a token method", "G(T / HTTP/1.1\r\n\r\n"),
		bad("control in target", "GET /\x01 HTTP/1.1\r\n\r\n"),
		bad("garbage", "\x00\x01\x02garbage\xff\r\n\r\n"),
		bad("words", "hello there\r\n\r\n"),
		bad("header without colon", "GET / HTTP/1.1\r\nHost localhost\r\n\r\n"),
		bad("header only name", "GET / HTTP/1.1\r\nHost\r\n\r\n"),
		bad("header empty name", "GET / HTTP/1.1\r\n: value\r\n\r\n"),
		bad("length letters", "POST / HTTP/1.1\r\nContent-Length: abc\r\n\r\n"),
		bad("length negative", "POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n"),
		bad("length plus", "POST / HTTP/1.1\r\nContent-Length: +5\r\n\r\nhello"),
		bad("length hex", "POST / HTTP/1.1\r\nContent-Length: 0x10\r\n\r\n"),
		bad("length fraction", "POST / HTTP/1.1\r\nContent-Length: 1.5\r\n\r\n"),
		bad("length empty", "POST / HTTP/1.1\r\nContent-Length:\r\n\r\n"),
		bad("length two numbers", "POST / HTTP/1.1\r\nContent-Length: 1 2\r\n\r\n"),
		bad("length list", "POST / HTTP/1.1\r\nContent-Length: 3, 3\r\n\r\nabc"),
		bad("lengths differ", "POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd"),
		bad("lengths differ case", "POST / HTTP/1.1\r\ncontent-length: 0\r\nCONTENT-LENGTH: 1\r\n\r\nx"),

		{name: "413 over 1MiB", send: "POST / HTTP/1.1\r\nContent-Length: 1048577\r\n\r\n", want: contentTooLarge, closes: true},
		{name: "413 huge", send: "POST / HTTP/1.1\r\nContent-Length: 99999999999999999999999999\r\n\r\n", want: contentTooLarge, closes: true},

		{name: "431 head over 8192", send: headOf(8193), want: headerTooLarge, closes: true},
		{name: "431 head far over", send: headOf(20000), want: headerTooLarge, closes: true},
		{name: "431 no end", send: "GET / HTTP/1.1\r\n" + strings.Repeat("X-A: b\r\n", 1200), want: headerTooLarge, closes: true},
		{name: "431 no newline", send: "GET /" + strings.Repeat("a", 9000), want: headerTooLarge, closes: true},
		{name: "head of 8192", send: headOf(8192), want: ok},

		{name: "501 chunked", send: "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", want: notImplemented, closes: true},
		{name: "501 identity", send: "GET / HTTP/1.1\r\ntransfer-encoding: identity\r\n\r\n", want: notImplemented, closes: true},
		{name: "501 with length", send: "POST / HTTP/1.1\r\nContent-Length: 3\r\nTRANSFER-ENCODING: gzip\r\n\r\nabc", want: notImplemented, closes: true},

		{name: "505 http2", send: "GET / HTTP/2.0\r\n\r\n", want: versionNotSupported, closes: true},
		{name: "505 http1.2", send: "GET / HTTP/1.2\r\n\r\n", want: versionNotSupported, closes: true},
		{name: "505 http0.9", send: "GET / HTTP/0.9\r\n\r\n", want: versionNotSupported, closes: true},
		{name: "505 http3.1", send: "GET / HTTP/3.1\r\nHost: x\r\n\r\n", want: versionNotSupported, closes: true},

		{name: "answers kept before 400", send: get + "HEAD / HTTP/1.1\r\nHost: x\r\n\r\n" + "BAD\r\n\r\n" + get,
			want: ok + head(ok) + badRequest, closes: true},
		{name: "answers kept before 505", send: get + "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nGET " + "GET / HTTP/9.9\r\n\r\n",
			want: ok + ok + versionNotSupported, closes: true},
		{name: "answers kept before 431", send: get + get + headOf(9000), want: ok + ok + headerTooLarge, closes: true},
		{name: "answers kept before 413", send: get + "HEAD / HTTP/1.1\r\nHost: x\r\n\r\n" + "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000\r\n\r\nxyz",
			want: ok + head(ok) + contentTooLarge, closes: true},
		{name: "answers kept before 501", send: get + "GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n", want: ok + notImplemented, closes: true},
	}
}

func errorTests() []test {
	return append(exchangeTests(errorExchanges()),
		test{name: "buffered 8192 waits", run: testBufferedLimit},
		test{name: "drain", run: testDrain},
		test{name: "error under a flood", run: testErrorUnderFlood},
	)
}

// testBufferedLimit: 8192 bytes without the end of a head are still a request
// in progress; one byte more is a 431.
func testBufferedLimit(t *testing.T, s *target) {
	c := s.dial(t)
	c.send("GET /" + strings.Repeat("a", 8192-5))
	c.expectOpen()
	c.send("a")
	c.expect(headerTooLarge)
	c.expectClosed()
}

// testDrain: after an error the server half-closes at once but keeps reading
// (and discarding) for about a second before it closes, so a client still
// sending is not reset before it has read the error.
func testDrain(t *testing.T, s *target) {
	c := s.dial(t)
	c.send("BAD\r\n\r\n")
	c.expect(badRequest)
	c.expectClosed()
	failed := time.Now()

	// While the server drains, writes land in its receive buffer and are
	// discarded; once it closes, the first write draws a reset and a later
	// one fails.
	var lastOK time.Duration
	for {
		c.c.SetWriteDeadline(time.Now().Add(ioTimeout))
		_, err := c.c.Write([]byte("more bytes after the error\r\n"))
		since := time.Since(failed)
		if err != nil {
			// Without a drain the second write fails within a few ms.
			if lastOK < 200*time.Millisecond {
				t.Fatalf("connection closed %v after the error (last write accepted at %v): want about 1s of draining", since, lastOK)
			}
			return
		}
		lastOK = since
		if since > 5*time.Second {
			t.Fatalf("connection still open %v after the error: want it closed after about 1s of draining", since)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// testErrorUnderFlood: a client that keeps sending megabytes after a bad
// request still reads the error whole, then EOF.
func testErrorUnderFlood(t *testing.T, s *target) {
	c := s.dial(t)
	junk := strings.Repeat("junk junk junk junk\r\n", 1<<12)
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.c.SetWriteDeadline(time.Now().Add(ioTimeout))
		c.c.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\nNo colon here\r\n\r\n"))
		for range 64 {
			// The server closes after its drain: a failed write ends the flood.
			if _, err := c.c.Write([]byte(junk)); err != nil {
				return
			}
		}
	}()
	c.expect(badRequest)
	got, e := c.readAll(ioTimeout)
	if len(got) > 0 || e != endEOF {
		t.Fatalf("after the error: got %q then %s, want the connection closed (EOF)", clip(got), e)
	}
	c.c.Close()
	<-done
}
