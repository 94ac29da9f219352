package conformance

import (
	"strings"
	"testing"
	"time"
)

// A response that ends the connection (Connection: close, HTTP/1.0, or an
// error) in the middle of a pipeline, with more requests behind it: the
// server answers everything up to and including it, then half-closes and
// discards what still arrives until the client closes. Closing at once
// instead, with pipelined bytes unread, would send a reset, and a reset can
// destroy answers the client has received but not read yet. So the client
// here reads late, after the server has long decided to close, and must
// still read every answer whole and then EOF, never a reset.

// readLate is how long the closing tests wait, once everything is sent,
// before reading: ample time for a reset to arrive and destroy the answers.
const readLate = 50 * time.Millisecond

// closer is a request whose answer ends the connection.
type closer struct {
	name, send, want string
}

var closers = []closer{
	{"connection close", "GET /c HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n", okClose},
	{"http1.0", "GET /c HTTP/1.0\r\n\r\n", okClose},
	{"head close", "HEAD /c HTTP/1.1\r\nHost: x\r\nconnection: CLOSE\r\n\r\n", head(okClose)},
	{"body close", "POST /c HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello", okClose},
	{"bad request", "GET /c HTTP/1.1\r\nHost: x\r\nNo colon\r\n\r\n", badRequest},
	{"version", "GET /c HTTP/2.0\r\n\r\n", versionNotSupported},
}

// beforeCloser is the pipeline ahead of the closing request and its answers.
var (
	beforeCloser = get + "HEAD / HTTP/1.1\r\nHost: x\r\n\r\n" + "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc" +
		"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n" + strings.Repeat(get, 12)
	beforeAnswers = ok + head(ok) + ok + okKeepAlive + strings.Repeat(ok, 12)
)

// afterCloser returns n requests that follow the closing one and must go
// unanswered.
func afterCloser(n int) string {
	return strings.Repeat(get, n-1) + "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nbody"
}

func closingTests() []test {
	var tests []test
	for _, x := range closers {
		tests = append(tests,
			test{name: x.name + " mid-pipeline, one write", run: func(t *testing.T, s *target) {
				// More than any server reads at once: the close finds bytes
				// still unread in the socket.
				closeMidPipeline(t, s, x, []string{beforeCloser + x.send + afterCloser(8000)}, 0, false)
			}},
			test{name: x.name + " mid-pipeline, in pieces", run: func(t *testing.T, s *target) {
				// The closing request arrives split; more requests keep
				// arriving after the server has answered it.
				k := len(x.send) / 2
				writes := []string{beforeCloser[:len(beforeCloser)/2], beforeCloser[len(beforeCloser)/2:] + x.send[:k], x.send[k:]}
				for range 20 {
					writes = append(writes, afterCloser(50))
				}
				closeMidPipeline(t, s, x, writes, apart, false)
			}},
			test{name: x.name + " mid-pipeline, then half-close", run: func(t *testing.T, s *target) {
				closeMidPipeline(t, s, x, []string{beforeCloser + x.send + afterCloser(100)}, 0, true)
			}},
		)
	}
	tests = append(tests, test{name: "closing request split everywhere, more behind", run: testCloserSplit})
	return tests
}

// closeMidPipeline sends writes (a pause apart) on a fresh connection,
// half-closing after them when halfClose is set, waits readLate, and then
// requires the answers up to and including x's, then EOF.
func closeMidPipeline(t *testing.T, s *target, x closer, writes []string, pause time.Duration, halfClose bool) {
	t.Helper()
	c := s.dial(t)
	for i, w := range writes {
		if i > 0 {
			time.Sleep(pause)
		}
		// The server drains after it closes its side: every write must
		// land, not draw a reset.
		c.send(w)
	}
	if halfClose {
		if err := c.c.CloseWrite(); err != nil {
			t.Fatalf("shutdown(SHUT_WR): %v", err)
		}
	}
	time.Sleep(readLate)
	c.expect(beforeAnswers + x.want)
	c.expectClosed()
}

// testCloserSplit cuts a closing request at every byte, sends the rest with
// more requests behind it, reads late, and requires the answer then EOF.
// More behind it than a server reads at once: the close finds bytes unread,
// which it must drain.
func testCloserSplit(t *testing.T, s *target) {
	x := closers[0]
	splitEnding(t, s, get, x.send, afterCloser(4000), ok+x.want)
}
