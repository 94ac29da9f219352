package proto

import "bytes"

// Verdict says what the caller must do with the connection after Serve.
type Verdict uint8

const (
	// Open: write what was appended (if anything) and keep reading.
	Open Verdict = iota
	// Close: write what was appended, then end the connection; the last
	// response carries "Connection: close". Bytes after that request are not
	// answered. The servers end it as after Fail (half-close, drain, close),
	// so that unread pipelined bytes cannot turn the close into a reset that
	// destroys responses the client has not read yet.
	Close
	// Fail: what was appended ends with an error response. Write it, stop
	// reading, half-close the write side, discard what the client still
	// sends for up to DrainTimeout, then close.
	Fail
)

func (v Verdict) String() string {
	switch v {
	case Open:
		return "open"
	case Close:
		return "close"
	default:
		return "fail"
	}
}

// State is all a connection must remember between reads, apart from the
// unconsumed bytes Serve leaves behind. Its zero value is a new connection.
type State struct {
	skip int64    // body bytes still to discard before the next request
	owed respKind // response due once the body has been discarded
}

// InBody reports whether the connection is in the middle of a request body.
func (s *State) InBody() bool { return s.skip > 0 }

// Serve frames the requests in in, appending each complete request's
// response to out in order. It returns the grown out, the number of bytes of
// in it consumed, and the verdict.
//
// When the verdict is Open, in[n:] is the beginning of a request head that is
// not complete yet: the caller keeps those bytes and passes them again,
// followed by whatever arrives next. Serve never keeps a reference to in, and
// it never leaves more than MaxHead bytes unconsumed (it fails with 431
// instead), so a caller's leftover buffer is bounded.
//
// Serve does not allocate unless out must grow.
func (s *State) Serve(in, out []byte) ([]byte, int, Verdict) {
	n := 0
	for {
		if s.skip > 0 {
			// Body bytes may arrive in any split: discard what is here.
			if avail := int64(len(in) - n); avail < s.skip {
				s.skip -= avail
				return out, len(in), Open
			}
			n += int(s.skip)
			s.skip = 0
		}
		if s.owed != kindNone {
			// A request is answered once its body has been read in full.
			k := s.owed
			s.owed = kindNone
			out = append(out, k.bytes()...)
			if k.closes() {
				return out, n, Close
			}
		}
		if n == len(in) {
			return out, n, Open
		}
		h := parseHead(in[n:])
		if h.fail != nil {
			return append(out, h.fail...), n, Fail
		}
		n += h.used
		if h.kind == kindNone {
			return out, n, Open // an incomplete head: wait for more bytes
		}
		s.skip, s.owed = h.length, h.kind
	}
}

// head is what parseHead learned from the front of a buffer.
type head struct {
	used   int      // bytes consumed: the whole head, or leading empty lines
	kind   respKind // kindNone while the head is incomplete
	length int64    // Content-Length, the body bytes that follow the head
	fail   []byte   // the error response, when the head is bad
}

// parseHead reads one request head from the front of b. Errors are found in
// byte order (the first bad line, or the head outgrowing MaxHead, wins), so
// the answer is the same however the bytes were split across reads.
func parseHead(b []byte) head {
	// RFC 9112 §2.2: empty lines before a request line are ignored.
	start := 0
	for start < len(b) {
		if b[start] == '\n' {
			start++
		} else if b[start] == '\r' && start+1 < len(b) && b[start+1] == '\n' {
			start += 2
		} else {
			break
		}
	}
	h := b[start:]
	window := h
	if len(window) > MaxHead {
		window = window[:MaxHead]
	}
	incomplete := func() head {
		if len(h) > MaxHead {
			return head{fail: HeaderTooLarge}
		}
		return head{used: start}
	}

	eol := bytes.IndexByte(window, '\n')
	if eol < 0 {
		return incomplete()
	}
	isHead, minor, fail := parseRequestLine(trimCR(h[:eol]))
	if fail != nil {
		return head{fail: fail}
	}
	var (
		length           int64 = -1
		close, keepAlive bool
		pos              = eol + 1
	)
	for {
		eol = bytes.IndexByte(window[pos:], '\n')
		if eol < 0 {
			return incomplete()
		}
		line := trimCR(h[pos : pos+eol])
		pos += eol + 1
		if len(line) == 0 {
			break // the empty line: the head is complete
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 || !isToken(line[:colon]) {
			return head{fail: BadRequest}
		}
		name, value := line[:colon], trimSpace(line[colon+1:])
		switch {
		case equalFold(name, "content-length"):
			n, ok := parseLength(value)
			if !ok || (length >= 0 && n != length) {
				return head{fail: BadRequest}
			}
			if n > MaxBody {
				return head{fail: ContentTooLarge}
			}
			length = n
		case equalFold(name, "transfer-encoding"):
			return head{fail: NotImplemented}
		case equalFold(name, "connection"):
			c, k := connectionTokens(value)
			close, keepAlive = close || c, keepAlive || k
		}
	}

	kind := kindKeep
	switch {
	case close:
		kind = kindClose
	case minor == 0 && keepAlive:
		kind = kindKeepAlive10
	case minor == 0:
		kind = kindClose
	}
	if isHead {
		kind += kindHead
	}
	if length < 0 {
		length = 0
	}
	return head{used: start + pos, kind: kind, length: length}
}

// parseRequestLine checks METHOD SP TARGET SP HTTP/x.y and returns whether
// the method is HEAD and the minor version (1.0 or 1.1), or an error response.
func parseRequestLine(line []byte) (isHead bool, minor byte, fail []byte) {
	sp := bytes.IndexByte(line, ' ')
	if sp <= 0 || !isToken(line[:sp]) {
		return false, 0, BadRequest
	}
	method, rest := line[:sp], line[sp+1:]
	sp = bytes.IndexByte(rest, ' ')
	if sp <= 0 {
		return false, 0, BadRequest
	}
	for _, c := range rest[:sp] {
		if c <= ' ' || c == 0x7f {
			return false, 0, BadRequest
		}
	}
	v := rest[sp+1:]
	if len(v) != 8 || string(v[:5]) != "HTTP/" || !isDigit(v[5]) || v[6] != '.' || !isDigit(v[7]) {
		return false, 0, BadRequest
	}
	if v[5] != '1' || (v[7] != '0' && v[7] != '1') {
		return false, 0, VersionNotSupported
	}
	return string(method) == "HEAD", v[7] - '0', nil
}

// parseLength reads a Content-Length value: decimal digits only. Values past
// MaxBody are reported as MaxBody+1, so huge numbers cannot overflow.
func parseLength(v []byte) (int64, bool) {
	if len(v) == 0 {
		return 0, false
	}
	var n int64
	for _, c := range v {
		if !isDigit(c) {
			return 0, false
		}
		if n <= MaxBody {
			n = n*10 + int64(c-'0')
		}
	}
	if n > MaxBody {
		n = MaxBody + 1
	}
	return n, true
}

// connectionTokens looks for "close" and "keep-alive" in a comma-separated
// Connection header value, ignoring case.
func connectionTokens(v []byte) (close, keepAlive bool) {
	for len(v) > 0 {
		tok := v
		if i := bytes.IndexByte(v, ','); i >= 0 {
			tok, v = v[:i], v[i+1:]
		} else {
			v = nil
		}
		tok = trimSpace(tok)
		close = close || equalFold(tok, "close")
		keepAlive = keepAlive || equalFold(tok, "keep-alive")
	}
	return close, keepAlive
}

func trimCR(b []byte) []byte {
	if len(b) > 0 && b[len(b)-1] == '\r' {
		return b[:len(b)-1]
	}
	return b
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// equalFold compares b with a lower-case ASCII string, ignoring case.
func equalFold(b []byte, lower string) bool {
	if len(b) != len(lower) {
		return false
	}
	for i := range b {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// isToken reports whether b is a non-empty RFC 9110 token (method, header name).
func isToken(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if !tchar[c] {
			return false
		}
	}
	return true
}

var tchar = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c], t[c-'a'+'A'] = true, true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return t
}()
