// Package epoll is the hand-written reactor: the same HTTP/1.1 server as the
// other models, on raw socket fds and epoll through golang.org/x/sys/unix,
// with no runtime netpoller and no library between the kernel and the
// protocol code.
//
// # Reading order
//
//  1. poller.go: the only file that speaks epoll (create, ctl, wait, wake),
//     translating EPOLL* bits into readable, writable and hang-up.
//  2. loop.go: one loop's turn (wait, dispatch, accept, expire) and its
//     shutdown.
//  3. conn.go: what a connection keeps, its states, and settle, the one
//     function that moves it between them.
//  4. read.go and write.go: reading and answering a connection; writing
//     straight to the socket and queueing only what it did not take.
//  5. accept.go and timers.go: taking new connections; the timer lists
//     whose nearest deadline becomes the wait's timeout.
//  6. server.go, listen.go, table.go, sys.go: starting and stopping the
//     loops, the listening sockets, the connection table, the raw socket
//     calls.
//
// # The loop's contract
//
// Start opens the listeners and starts cfg.Loops loops. Each loop is one
// goroutine, locked to its OS thread unless it parks in the runtime
// (cfg.Idle, idle.go), with its own epoll instance, its own
// connection table, read buffer and write buffer; nothing is shared between
// loops but a connection counter (for MaxConns) and the server's state. A
// connection belongs to the loop that accepted it for its whole life.
//
// cfg.Accept says where connections come from: "reuseport" gives each loop
// a listener of its own on the same port (SO_REUSEPORT), the kernel picking
// one per connection; "exclusive" registers one listener in every loop with
// EPOLLEXCLUSIVE, so the kernel wakes one waiting loop (rarely a few); and
// "shared" registers it in every loop without that flag, so every waiting
// loop wakes for each connection and all but one find nothing to accept:
// the thundering herd, kept on purpose to be observed.
//
// One turn of a loop:
//
//  1. wait for events (poller.go, the only file that speaks epoll), with the
//     nearest timer deadline as the timeout;
//  2. for each event whose tag (fd and generation) names a live connection:
//     hang-up closes; writable flushes queued responses; readable reads
//     (once in level mode, until EAGAIN or 16 reads in edge mode), passes
//     the bytes to proto.State.Serve and writes all the responses of that
//     read with one write, straight to the socket;
//  3. accept new connections, at most 64 per wake, after the batch, so
//     that the connections already open are served first;
//  4. fire expired timers: idle and header timeouts, delayed responses, the
//     end of a drain after an error.
//
// A connection keeps between events only what must outlive one: the framing
// state, the start of an unfinished head, unsent responses and its place in
// a timer list. Bytes are kept only when some are really left over, and the
// memory is returned once they are gone, so an idle keep-alive connection
// costs a 48-byte slot and the kernel's socket.
//
// Only a short write (or EAGAIN) queues bytes and arms EPOLLOUT; the loop
// disarms it once the queue is empty. A connection holding more than
// maxUnsent queued bytes is no longer read until the queue drains, so a
// client that pipelines without reading cannot grow the server's memory.
// While any response is queued, read or not, no header timer runs for the
// connection (that of a head kept meanwhile starts once the queue is
// empty, and again while the client is still taking responses out of the
// kernel's send buffer), and the idle timer, restarted only by response bytes leaving,
// closes it if its responses make no progress, whatever the client sends
// meanwhile. After an error response the loop stops serving the
// connection, delivers what it still owes, shuts its write side, discards
// what arrives for up to proto.DrainTimeout, and closes. A
// client's FIN is read as end of stream: what it sent before is answered,
// then the connection closes.
//
// Shutdown wakes every loop through its eventfd. Each loop closes its
// listener, lets each connection deliver what it owes (delayed responses
// included) and close, and exits when it holds none; a context that ends
// first makes the loops close everything at once.
//
// # Why level triggering is the default
//
// Level-triggered epoll reports a socket for as long as it is readable, so
// the loop can read once per event, whatever the size of its buffer: bytes
// it did not take are reported again on the next wait, and nothing is lost
// if the loop decides not to read a connection for a while (it only drops
// interest through epoll_ctl). One request costs one read and one write.
//
// Edge-triggered epoll (cfg.Trigger "edge", EPOLLET) reports a socket only
// when its state changes, for instance when new bytes arrive. The loop must
// then read until EAGAIN, or bytes already queued would sit unreported until
// the client sends more: a correct edge loop pays one extra read, the one
// that returns EAGAIN, on every event. A connection that is still readable
// after maxEdgeReads reads is re-armed with EPOLL_CTL_MOD instead, which
// reports it again on the next wait, so that it cannot hold the loop. Edge
// mode is here to show these costs.
package epoll
