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

// parseHead reads one request head from the front of b. The checks run in
// the contract's order, and the first that fails answers: the request line
// (400, then 505 for the version), the size of the head (431), each header
// line (400), Transfer-Encoding (501), Content-Length (400, then 413), Host
// (400). The header lines are judged only once the whole head is within
// MaxHead, so the answer is the same however the bytes were split across
// reads. A request line with no end within MaxHead bytes cannot be judged
// and is a head over the limit.
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
	var f fields
	pos := eol + 1
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
		f.add(line)
	}
	length, fail := f.check(minor)
	if fail != nil {
		return head{fail: fail}
	}

	kind := kindKeep
	switch {
	case f.close:
		kind = kindClose
	case minor == 0 && f.keepAlive:
		kind = kindKeepAlive10
	case minor == 0:
		kind = kindClose
	}
	if isHead {
		kind += kindHead
	}
	return head{used: start + pos, kind: kind, length: length}
}

// fields is what a head's header lines say, gathered line by line and
// judged by check once the head is complete.
type fields struct {
	badLine   bool   // a line without a colon, a name that is not a token, or CR or NUL in a value
	encoded   bool   // a Transfer-Encoding header
	hasLength bool   // a Content-Length header
	badLength bool   // a Content-Length that is not a decimal number, or two that differ
	length    []byte // the first Content-Length's digits, leading zeros dropped
	hosts     int    // Host headers

	close, keepAlive bool // the Connection tokens seen
}

// add takes one header line (its line ending removed). After a bad line the
// rest are not looked at: that line's 400 comes before anything they hold.
func (f *fields) add(line []byte) {
	if f.badLine {
		return
	}
	colon := bytes.IndexByte(line, ':')
	if colon <= 0 || !isToken(line[:colon]) {
		f.badLine = true
		return
	}
	name, value := line[:colon], trimSpace(line[colon+1:])
	// RFC 9110 §5.5: CR, LF and NUL are never valid in a field value. A
	// line ends at its LF, so the value cannot hold one: an LF that a
	// sender meant inside a value (obsolete line folding) leaves a next
	// line that starts with whitespace, and so has no token before its
	// colon.
	if !validValue(value) {
		f.badLine = true
		return
	}
	switch {
	case equalFold(name, "content-length"):
		if !isDecimal(value) {
			f.badLength = true
			return
		}
		digits := bytes.TrimLeft(value, "0")
		if f.hasLength && !bytes.Equal(digits, f.length) {
			f.badLength = true
		}
		f.hasLength, f.length = true, digits
	case equalFold(name, "transfer-encoding"):
		f.encoded = true
	case equalFold(name, "host"):
		f.hosts++
	case equalFold(name, "connection"):
		c, k := connectionTokens(value)
		f.close, f.keepAlive = f.close || c, f.keepAlive || k
	}
}

// check judges a complete head's header lines in the contract's order and
// returns the body's length, or the error response.
func (f *fields) check(minor byte) (int64, []byte) {
	switch {
	case f.badLine:
		return 0, BadRequest
	case f.encoded:
		return 0, NotImplemented
	case f.badLength:
		return 0, BadRequest
	}
	length := parseLength(f.length)
	if length > MaxBody {
		return 0, ContentTooLarge
	}
	// RFC 9112 §3.2: an HTTP/1.1 request needs exactly one Host; an
	// HTTP/1.0 request may have none, and no request may have two.
	if f.hosts > 1 || (minor == 1 && f.hosts == 0) {
		return 0, BadRequest
	}
	return length, nil
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

// parseLength reads a Content-Length's decimal digits (an empty value is
// 0). Values past MaxBody are reported as MaxBody+1, so huge numbers cannot
// overflow.
func parseLength(digits []byte) int64 {
	var n int64
	for _, c := range digits {
		if n <= MaxBody {
			n = n*10 + int64(c-'0')
		}
	}
	return min(n, MaxBody+1)
}

// isDecimal reports whether v is one or more decimal digits.
func isDecimal(v []byte) bool {
	for _, c := range v {
		if !isDigit(c) {
			return false
		}
	}
	return len(v) > 0
}

// validValue reports whether a field value is free of CR and NUL (LF cannot
// occur: it ends the line).
func validValue(v []byte) bool {
	for _, c := range v {
		if c == '\r' || c == 0 {
			return false
		}
	}
	return true
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
