package proto

import (
	"bytes"
	"strings"
	"testing"
)

// serveAll feeds in to a fresh State the way a server does: unconsumed bytes
// are kept and offered again with the next chunk. It returns everything
// written and the final verdict.
func serveAll(chunks ...[]byte) ([]byte, Verdict) {
	var (
		st   State
		out  []byte
		left []byte
	)
	for _, c := range chunks {
		left = append(left, c...)
		var n int
		var v Verdict
		out, n, v = st.Serve(left, out)
		if v != Open {
			return out, v
		}
		left = append(left[:0], left[n:]...)
	}
	return out, Open
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func headOnly(b []byte) []byte { return b[:len(b)-len(Body)] }

func TestServe(t *testing.T) {
	big := strings.Repeat("x", MaxHead)
	runRules(t, []ruleCase{
		{"get", "GET / HTTP/1.1\r\nHost: a\r\n\r\n", OK, Open},
		{"any method and target", "BREW /pot?x=1#y HTTP/1.1\r\nHost: a\r\n\r\n", OK, Open},
		{"head", "HEAD / HTTP/1.1\r\nHost: a\r\n\r\n", headOnly(OK), Open},
		{"bare LF lines", "GET / HTTP/1.1\nHost: a\n\n", OK, Open},
		{"leading empty lines ignored", "\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", OK, Open},
		{"incomplete head", "GET / HTTP/1.1\r\nHost: a\r\n", nil, Open},
		{"connection close", "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", OKClose, Close},
		{"connection close any case", "GET / HTTP/1.1\r\nHost: a\r\ncOnNeCtIoN:   ClOsE  \r\n\r\n", OKClose, Close},
		{"connection close in a list", "GET / HTTP/1.1\r\nHost: a\r\nConnection: upgrade, close\r\n\r\n", OKClose, Close},
		{"head close", "HEAD / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", headOnly(OKClose), Close},
		{"http/1.0 closes", "GET / HTTP/1.0\r\n\r\n", OKClose, Close},
		{"http/1.0 keep-alive", "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", OKKeepAlive, Open},
		{"http/1.0 head keep-alive", "HEAD / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", headOnly(OKKeepAlive), Open},
		{"http/1.0 close wins over keep-alive", "GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n", OKClose, Close},
		{"http/1.1 keep-alive adds nothing", "GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive\r\n\r\n", OK, Open},
		{"body discarded", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhelloGET / HTTP/1.1\r\nHost: a\r\n\r\n", cat(OK, OK), Open},
		{"body incomplete: no answer yet", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhel", nil, Open},
		{"same length twice", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 01\r\n\r\nx", OK, Open},
		{"length at the limit", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1048576\r\n\r\n", nil, Open},
		{"pipeline", strings.Repeat("GET / HTTP/1.1\r\nHost: a\r\n\r\n", 3), cat(OK, OK, OK), Open},
		{"bytes after close ignored", "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", OKClose, Close},

		{"400 no version", "GET /\r\n", BadRequest, Fail},
		{"400 two spaces", "GET  / HTTP/1.1\r\nHost: a\r\n\r\n", BadRequest, Fail},
		{"400 lower-case version", "GET / http/1.1\r\n\r\n", BadRequest, Fail},
		{"400 long version", "GET / HTTP/1.10\r\n\r\n", BadRequest, Fail},
		{"400 extra field", "GET / HTTP/1.1 x\r\n\r\n", BadRequest, Fail},
		{"400 bad method", "G(T / HTTP/1.1\r\nHost: a\r\n\r\n", BadRequest, Fail},
		{"400 control in target", "GET /\x01 HTTP/1.1\r\nHost: a\r\n\r\n", BadRequest, Fail},
		{"400 garbage", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\n", BadRequest, Fail},
		{"400 header without colon", "GET / HTTP/1.1\r\nHost: a\r\nHost a\r\n\r\n", BadRequest, Fail},
		{"400 empty header name", "GET / HTTP/1.1\r\nHost: a\r\n: a\r\n\r\n", BadRequest, Fail},
		{"400 space before colon", "GET / HTTP/1.1\r\nHost: a\r\nHost : a\r\n\r\n", BadRequest, Fail},
		{"400 folded header", "GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n", BadRequest, Fail},
		{"400 length not a number", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5x\r\n\r\n", BadRequest, Fail},
		{"400 negative length", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", BadRequest, Fail},
		{"400 empty length", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n\r\n", BadRequest, Fail},
		{"400 lengths differ", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", BadRequest, Fail},
		{"400 length list", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1, 1\r\n\r\n", BadRequest, Fail},
		{"a bad line waits for the head's end", "GET / HTTP/1.1\r\nHost: a\r\nbad\r\n", nil, Open},
		{"413", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1048577\r\n\r\n", ContentTooLarge, Fail},
		{"413 huge number", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999999999\r\n\r\n", ContentTooLarge, Fail},
		{"431 long head", "GET / HTTP/1.1\r\nHost: a\r\nX: " + big + "\r\n\r\n", HeaderTooLarge, Fail},
		{"431 no end in sight", "GET / HTTP/1.1\r\nHost: a\r\nX: " + big, HeaderTooLarge, Fail},
		{"431 long request line", "GET /" + big, HeaderTooLarge, Fail},
		{"501", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n", NotImplemented, Fail},
		{"501 any value any case", "POST / HTTP/1.1\r\nHost: a\r\ntransfer-encoding: identity\r\n\r\n", NotImplemented, Fail},
		{"505 http/2.0", "GET / HTTP/2.0\r\n\r\n", VersionNotSupported, Fail},
		{"505 http/0.9", "GET / HTTP/0.9\r\n\r\n", VersionNotSupported, Fail},
		{"505 http/1.2", "GET / HTTP/1.2\r\n\r\n", VersionNotSupported, Fail},
		{"a bad line before transfer-encoding", "GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: x\r\nbad\r\n\r\n", BadRequest, Fail},
		{"answers before an error are kept", "GET / HTTP/1.1\r\nHost: a\r\n\r\nHEAD / HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/9.9\r\n\r\n", cat(OK, headOnly(OK), VersionNotSupported), Fail},
	})
}

// TestHeadLimitBoundary: a head of exactly MaxHead bytes is served; one
// byte more is 431, whether or not the end has arrived.
func TestHeadLimitBoundary(t *testing.T) {
	prefix, suffix := "GET / HTTP/1.1\r\nHost: a\r\nX: ", "\r\n\r\n"
	exact := prefix + strings.Repeat("a", MaxHead-len(prefix)-len(suffix)) + suffix
	if len(exact) != MaxHead {
		t.Fatalf("built a head of %d bytes", len(exact))
	}
	if out, v := serveAll([]byte(exact)); !bytes.Equal(out, OK) || v != Open {
		t.Errorf("head of %d bytes: got %q, %v", MaxHead, out, v)
	}
	over := prefix + "a" + exact[len(prefix):]
	if out, v := serveAll([]byte(over)); !bytes.Equal(out, HeaderTooLarge) || v != Fail {
		t.Errorf("head of %d bytes: got %q, %v", len(over), out, v)
	}
	if out, v := serveAll([]byte(exact[:MaxHead-1])); out != nil || v != Open {
		t.Errorf("incomplete head of %d bytes: got %q, %v", MaxHead-1, out, v)
	}
}

// TestEverySplit: the answer never depends on how the bytes were split.
func TestEverySplit(t *testing.T) {
	streams := []string{
		"GET / HTTP/1.1\r\nHost: a\r\n\r\nPOST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 7\r\n\r\nabcdefgHEAD / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabcGET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n",
		"\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n\r\nGET / HTTP/1.0\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\n\r\nPOST / HTTP/1.1\r\nContent-Length: x\r\nbad\r\nTransfer-Encoding: y\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\n\r\nPOST / HTTP/1.1\r\nContent-Length: x\r\nTransfer-Encoding: y\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/1.1\r\nX: \x00\r\n\r\n",
	}
	for _, s := range streams {
		whole, wv := serveAll([]byte(s))
		for i := 0; i <= len(s); i++ {
			for j := i; j <= len(s); j += 7 {
				out, v := serveAll([]byte(s[:i]), []byte(s[i:j]), []byte(s[j:]))
				if !bytes.Equal(out, whole) || v != wv {
					t.Fatalf("split %d,%d of %q:\n got %q, %v\nwant %q, %v", i, j, s, out, v, whole, wv)
				}
			}
		}
	}
}

// TestBodyAnySplit: a body arriving a byte at a time is skipped exactly.
func TestBodyAnySplit(t *testing.T) {
	req := "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 300\r\n\r\n" + strings.Repeat("b", 300) + "GET / HTTP/1.1\r\nHost: a\r\n\r\n"
	var chunks [][]byte
	for i := range len(req) {
		chunks = append(chunks, []byte{req[i]})
	}
	if out, v := serveAll(chunks...); !bytes.Equal(out, cat(OK, OK)) || v != Open {
		t.Errorf("got %q, %v", out, v)
	}
}

// TestStateBetweenReads checks what a caller sees between reads: InBody
// while a body is pending, and the unconsumed head bytes.
func TestStateBetweenReads(t *testing.T) {
	var st State
	in := []byte("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n\r\nab")
	out, n, v := st.Serve(in, nil)
	if out != nil || n != len(in) || v != Open || !st.InBody() {
		t.Fatalf("mid-body: out %q n %d v %v inBody %v", out, n, v, st.InBody())
	}
	in = []byte("cdGET / HT")
	out, n, v = st.Serve(in, nil)
	if !bytes.Equal(out, OK) || n != 2 || v != Open || st.InBody() {
		t.Fatalf("end of body: out %q n %d v %v inBody %v", out, n, v, st.InBody())
	}
}

func TestVerdictString(t *testing.T) {
	for v, want := range map[Verdict]string{Open: "open", Close: "close", Fail: "fail"} {
		if v.String() != want {
			t.Errorf("%d: %q", v, v.String())
		}
	}
}

// BenchmarkServePipelined frames a batch of 16 pipelined requests, the way a
// server handles one read. It must not allocate.
func BenchmarkServePipelined(b *testing.B) {
	in := bytes.Repeat([]byte("GET /plaintext HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: bench\r\nAccept: */*\r\n\r\n"), 16)
	out := make([]byte, 0, 16*len(OK))
	var st State
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		o, n, v := st.Serve(in, out[:0])
		if n != len(in) || v != Open || len(o) != 16*len(OK) {
			b.Fatalf("n %d v %v len %d", n, v, len(o))
		}
	}
}

func TestServeDoesNotAllocate(t *testing.T) {
	in := bytes.Repeat([]byte("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nhi"), 16)
	out := make([]byte, 0, 16*len(OK))
	var st State
	allocs := testing.AllocsPerRun(100, func() { st.Serve(in, out[:0]) })
	if allocs != 0 {
		t.Errorf("Serve allocated %v times per batch", allocs)
	}
}
