package conformance

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"
)

// stream is one random conversation of the differential test: the bytes a
// client sends, how they are cut into writes, and how the client ends.
type stream struct {
	data   string
	parts  []string        // what data is made of, for messages
	cuts   []int           // ascending offsets where one write ends and the next begins
	pauses []time.Duration // the pause before each write after the first
	// halfClose: shut the write side once everything is sent, and expect
	// the server to finish and close; otherwise wait for a quiet moment.
	halfClose bool
}

// writes returns data cut into the stream's writes.
func (s stream) writes() []string {
	var w []string
	from := 0
	for _, to := range s.cuts {
		if to > from {
			w = append(w, s.data[from:to])
			from = to
		}
	}
	if from < len(s.data) {
		w = append(w, s.data[from:])
	}
	return w
}

func (s stream) String() string {
	var b strings.Builder
	for i, p := range s.parts {
		fmt.Fprintf(&b, "  part %d: %q\n", i, clip([]byte(p)))
	}
	fmt.Fprintf(&b, "  %d bytes cut at %v; half-close at the end: %v", len(s.data), s.cuts, s.halfClose)
	return b.String()
}

// newStream draws a stream from rng: mostly valid requests of every shape
// the contract speaks of, mixed with invalid ones of every kind.
func newStream(rng *rand.Rand) stream {
	var s stream
	n := 1 + rng.IntN(8)
	if rng.IntN(4) == 0 {
		n += rng.IntN(24)
	}
	for range n {
		var p string
		switch r := rng.IntN(100); {
		case r < 84:
			p = validRequest(rng)
		case r < 90:
			// A pipeline of one request many times, up to about 256 KiB.
			req := validRequest(rng)
			p = strings.Repeat(req, 2+rng.IntN(max(1, min(300, 256<<10/len(req)))))
		default:
			p = invalidRequest(rng)
		}
		s.parts = append(s.parts, p)
	}
	if rng.IntN(5) == 0 {
		// A last request cut short.
		p := validRequest(rng)
		s.parts = append(s.parts, p[:rng.IntN(len(p))])
	}
	s.data = strings.Join(s.parts, "")

	cuts := rng.IntN(8)
	if rng.IntN(8) == 0 {
		cuts = rng.IntN(64)
	}
	for range cuts {
		s.cuts = append(s.cuts, rng.IntN(len(s.data)+1))
	}
	slices.Sort(s.cuts)
	s.cuts = slices.Compact(s.cuts)
	for range s.cuts {
		s.pauses = append(s.pauses, time.Duration(rng.IntN(3))*time.Millisecond/2)
	}
	s.halfClose = rng.IntN(5) != 0
	return s
}

func pick[T any](rng *rand.Rand, xs ...T) T { return xs[rng.IntN(len(xs))] }

// validRequest draws a well-formed request: any method and target, HTTP/1.0
// or 1.1, assorted headers, now and then a Connection header or a body.
func validRequest(rng *rand.Rand) string {
	var b strings.Builder
	eol := "\r\n"
	if rng.IntN(20) == 0 {
		eol = "\n"
	}
	if rng.IntN(20) == 0 {
		b.WriteString(pick(rng, "\r\n", "\n", "\r\n\r\n"))
	}
	method := pick(rng, "GET", "GET", "GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "get", "X-Custom~1")
	target := pick(rng, "/", "/", "/index.html", "/a/b?c=d&e=f", "*", "http://example.com/x", "/%20%ff", "/"+strings.Repeat("p", rng.IntN(3000)))
	version := pick(rng, "HTTP/1.1", "HTTP/1.1", "HTTP/1.1", "HTTP/1.1", "HTTP/1.1", "HTTP/1.0")
	fmt.Fprintf(&b, "%s %s %s%s", method, target, version, eol)
	if version == "HTTP/1.0" && rng.IntN(2) == 0 {
		b.WriteString(pick(rng, "Connection: keep-alive", "connection: KEEP-ALIVE") + eol)
	}

	// RFC 9112 §3.2: exactly one Host in HTTP/1.1; in HTTP/1.0 one or none.
	host := version == "HTTP/1.1" || rng.IntN(2) == 0
	hostLine := pick(rng, "Host: localhost", "host: 127.0.0.1:8080", "HOST:") + eol
	hostFirst := rng.IntN(2) == 0
	if host && hostFirst {
		b.WriteString(hostLine)
	}

	length := -1
	if method == "POST" || method == "PUT" || rng.IntN(10) == 0 {
		length = pick(rng, 0, 1, 5, rng.IntN(200), rng.IntN(70000))
		if rng.IntN(50) == 0 {
			length = 1<<20 - rng.IntN(2)
		}
	}
	for range rng.IntN(6) {
		switch rng.IntN(6) {
		case 0:
			b.WriteString(pick(rng, "X-Forwarded-Host: localhost", "Hosts: a") + eol)
		case 1:
			fmt.Fprintf(&b, "X-%s: %s%s", word(rng), word(rng), eol)
		case 2:
			b.WriteString(pick(rng, "Accept: */*", "User-Agent: differential/1.0", "X-Empty:", "X-Pad: \t value \t", "Cookie: a=b; c=d") + eol)
		case 3:
			if rng.IntN(3) == 0 {
				b.WriteString(pick(rng, "Connection: close", "connection: CLOSE", "Connection: keep-alive", "CONNECTION: Keep-Alive",
					"Connection: upgrade", "Connection: keep-alive, close", "Connection:close", "Connection: closed") + eol)
			}
		case 4:
			if length >= 0 {
				// The same length twice is allowed.
				fmt.Fprintf(&b, "content-length: %d%s", length, eol)
			}
		}
	}
	if length >= 0 {
		fmt.Fprintf(&b, "Content-Length: %s%d%s", pick(rng, "", "0", " "), length, eol)
	}
	if host && !hostFirst {
		b.WriteString(hostLine)
	}
	b.WriteString(eol)
	if length > 0 {
		b.WriteString(bodyOf(rng, length))
	}
	return b.String()
}

// bodyOf returns n bytes that look like requests, lines and garbage, which
// the server must skip without reading them as such.
func bodyOf(rng *rand.Rand, n int) string {
	const alphabet = "GET / HTTP/1.1\r\n\r\nContent-Length: 9\r\n\x00\xff:"
	if n > 4096 {
		// Large bodies repeat a rotation of the alphabet: cheap to make.
		k := rng.IntN(len(alphabet))
		return strings.Repeat(alphabet[k:]+alphabet[:k], n/len(alphabet)+1)[:n]
	}
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[rng.IntN(len(alphabet))]
	}
	return string(b)
}

func word(rng *rand.Rand) string {
	const letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-"
	b := make([]byte, 1+rng.IntN(12))
	for i := range b {
		b[i] = letters[rng.IntN(len(letters)-1)]
	}
	return string(b)
}

// invalidRequest draws something the contract answers with an error, or
// bytes that are not a request at all.
func invalidRequest(rng *rand.Rand) string {
	switch rng.IntN(16) {
	case 0:
		b := make([]byte, 1+rng.IntN(64))
		for i := range b {
			b[i] = byte(rng.IntN(256))
		}
		return string(b)
	case 1:
		return "GET / " + pick(rng, "HTTP/2.0", "HTTP/1.2", "HTTP/0.9", "HTTP/9.9") + "\r\n\r\n"
	case 2:
		return "GET / " + pick(rng, "HTTP/1", "http/1.1", "HTTP/1.1 ", "HTTP/1.10", "HTTP/x.1", "") + "\r\n\r\n"
	case 3:
		return pick(rng, "GET\r\n\r\n", " GET / HTTP/1.1\r\n\r\n", "GET  / HTTP/1.1\r\n\r\n", "GET /a b HTTP/1.1\r\n\r\n", "G@T / HTTP/1.1\r\n\r\n")
	case 4:
		return "GET / HTTP/1.1\r\n" + pick(rng, "Host localhost", "NoColon", ": empty name", "Bad Name: x", " folded: x") + "\r\n\r\n"
	case 5:
		return "POST / HTTP/1.1\r\nContent-Length: " + pick(rng, "abc", "-1", "+1", "1 2", "0x5", "", "5,5", "1.0") + "\r\n\r\nhello"
	case 6:
		return "POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!"
	case 7:
		return "POST / HTTP/1.1\r\nContent-Length: " + pick(rng, "1048577", "2000000", "99999999999999999999999") + "\r\n\r\n"
	case 8:
		return "POST / HTTP/1.1\r\n" + pick(rng, "Transfer-Encoding: chunked", "transfer-encoding: identity", "TRANSFER-ENCODING:") + "\r\n\r\n0\r\n\r\n"
	case 9:
		// A head over the limit, complete or not; or just at it.
		return headOf(pick(rng, 8191, 8192, 8193, 8194, 8193+rng.IntN(4000)))
	case 10:
		return "GET /" + strings.Repeat("a", pick(rng, 8186, 8187, 8188, 9000))
	case 11:
		return strings.Repeat(pick(rng, "\r\n", "\n", " ", "\r"), 1+rng.IntN(10))
	case 12:
		return "GET / HTTP/1.1\r\n" + strings.Repeat("X-Many: headers\r\n", 400+rng.IntN(400)) + "\r\n"
	case 13:
		return pick(rng, "GET / HTTP/1.1\r\n\r\n", "GET / HTTP/1.1\r\nHost: a\r\nhost: a\r\n\r\n", "GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n")
	case 14:
		return "GET / HTTP/1.1\r\nHost: a\r\nX: " + pick(rng, "a\rb", "\x00", "a\r", "a\r\n b") + "\r\n\r\n"
	default:
		return "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + strings.Repeat("\x00", rng.IntN(300))
	}
}
