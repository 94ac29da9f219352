package proto

import (
	"bytes"
	"testing"
)

// FuzzServe checks the framing's invariants on arbitrary input: no panic;
// the answer is the same whole or split at any point; the output is a
// sequence of the known responses, an error one only last and only with
// Fail; the unconsumed rest never exceeds MaxHead.
func FuzzServe(f *testing.F) {
	for _, s := range []string{
		"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
		"HEAD / HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET / HTTP/1.0\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabcGET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n",
		"GET / HTTP/2.0\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
		"GET / HTTP/1.1\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\x00\r\n\r\n",
		"POST / HTTP/1.1\r\nContent-Length: x\r\nno colon\r\nTransfer-Encoding: y\r\n\r\n",
	} {
		f.Add([]byte(s), uint16(len(s)/2))
	}
	f.Fuzz(func(t *testing.T, in []byte, split uint16) {
		whole, wv, rest := serveChecked(t, in)
		if rest > MaxHead {
			t.Fatalf("%d bytes left unconsumed", rest)
		}
		at := int(split) % (len(in) + 1)
		parts, pv := serveAll(in[:at], in[at:])
		if !bytes.Equal(whole, parts) || wv != pv {
			t.Fatalf("split at %d changes the answer:\nwhole %q %v\nsplit %q %v", at, whole, wv, parts, pv)
		}
		checkResponses(t, whole, wv)
	})
}

// serveChecked serves in with one call and returns what a server would
// write, the verdict, and how many bytes were left unconsumed.
func serveChecked(t *testing.T, in []byte) ([]byte, Verdict, int) {
	t.Helper()
	var st State
	out, n, v := st.Serve(in, nil)
	if n < 0 || n > len(in) {
		t.Fatalf("consumed %d of %d bytes", n, len(in))
	}
	return out, v, len(in) - n
}

// checkResponses splits out into known responses.
func checkResponses(t *testing.T, out []byte, v Verdict) {
	t.Helper()
	oks := [][]byte{OK, OKClose, OKKeepAlive, headOnly(OK), headOnly(OKClose), headOnly(OKKeepAlive)}
	errs := [][]byte{BadRequest, ContentTooLarge, HeaderTooLarge, NotImplemented, VersionNotSupported}
	for len(out) > 0 {
		matched := false
		// Whole answers first: a HEAD answer is a prefix of its GET twin.
		for _, r := range oks {
			if bytes.HasPrefix(out, r) {
				closes := bytes.Equal(r, OKClose) || bytes.Equal(r, headOnly(OKClose))
				if closes && (len(out) != len(r) || v != Close) {
					t.Fatalf("a closing answer not last, or verdict %v: %q", v, out)
				}
				out, matched = out[len(r):], true
				break
			}
		}
		if matched {
			continue
		}
		for _, r := range errs {
			if bytes.Equal(out, r) {
				if v != Fail {
					t.Fatalf("error answer with verdict %v", v)
				}
				return
			}
		}
		t.Fatalf("unknown bytes in the answer: %q", out)
	}
	if v == Fail {
		t.Fatalf("verdict Fail without an error answer")
	}
}
