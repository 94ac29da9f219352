// Package proto is the HTTP/1.1 framing shared by the three servers: it turns
// the bytes a connection has received into the bytes to send back and a
// verdict on the connection. It does no I/O, so the I/O model is the only
// thing that differs between the epoll, gnet and std servers.
package proto

import "time"

// The 200 responses. Every server sends exactly these bytes.
var (
	// OK answers a request that keeps the connection open.
	OK = []byte("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, World!")
	// OKClose answers a request after which the connection closes.
	OKClose = []byte("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\nConnection: close\r\n\r\nHello, World!")
	// OKKeepAlive answers an HTTP/1.0 request that asked to stay open.
	OKKeepAlive = []byte("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\nConnection: keep-alive\r\n\r\nHello, World!")
)

// Body is the payload of every 200 response; HEAD answers omit it.
const Body = "Hello, World!"

// The error responses: each ends the connection (see the package's Verdict).
var (
	BadRequest          = errorResponse("400 Bad Request")
	RequestTimeout      = errorResponse("408 Request Timeout")
	ContentTooLarge     = errorResponse("413 Content Too Large")
	HeaderTooLarge      = errorResponse("431 Request Header Fields Too Large")
	NotImplemented      = errorResponse("501 Not Implemented")
	ServiceUnavailable  = errorResponse("503 Service Unavailable")
	VersionNotSupported = errorResponse("505 HTTP Version Not Supported")
)

func errorResponse(status string) []byte {
	return []byte("HTTP/1.1 " + status + "\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
}

// Limits from the contract.
const (
	// MaxHead is the most bytes a request line plus headers may take,
	// through the empty line that ends them.
	MaxHead = 8192
	// MaxBody is the largest Content-Length accepted.
	MaxBody = 1 << 20
)

// respKind is the response a parsed request is owed: which 200, and whether
// it carries a body. It is a byte so that per-connection state stays small.
type respKind uint8

const (
	kindNone respKind = iota
	kindKeep
	kindClose
	kindKeepAlive10
	kindHead = 4 // added to the above for HEAD requests
)

func (k respKind) bytes() []byte {
	var b []byte
	switch k &^ kindHead {
	case kindKeep:
		b = OK
	case kindClose:
		b = OKClose
	default:
		b = OKKeepAlive
	}
	if k&kindHead != 0 {
		b = b[:len(b)-len(Body)]
	}
	return b
}

func (k respKind) closes() bool { return k&^kindHead == kindClose }

// DrainTimeout bounds how long a server keeps discarding what a client sends
// after an error response, before it closes the connection. Draining lets the
// client read the error before the close could turn into a reset.
const DrainTimeout = time.Second
