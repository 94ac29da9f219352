// Package trace runs a server under strace, drives a short client script
// against it and turns strace's output into an annotated sequence: which
// thread made each call, what it returned (EAGAIN shown), and a note at each
// step saying what the call means for the server's I/O model.
//
// The package does not know the models: the caller names the server and
// passes its serve arguments.
package trace
