// Package load is the lab's HTTP/1.1 load generator, built the way wrk is:
// a few event loops, each locked to its own OS thread with its own epoll
// set, driving raw nonblocking sockets, so that the client costs less CPU
// per request than the servers it measures.
//
// Each connection sends the same request (GET / with a Host header) and
// checks every response byte for byte against proto.OK, streaming across
// reads. A batch of pipelined requests goes out in one write; each read
// fills the loop's one buffer. Closed loop (Rate 0): every connection keeps
// Pipeline requests in flight, and latency runs from the write. Open loop
// (Rate > 0): each connection sends its share of the rate on a fixed
// schedule, and latency runs from each request's intended send time, so a
// server that stalls cannot hide the stall by slowing the client down
// (coordinated omission, corrected as wrk2 does).
//
// Failures are counted by kind (connect error, reset, timeout, mismatch,
// early close); the connection is closed and reopened after a short
// back-off. Only responses completed inside the measured window, after the
// warmup, are counted, and latencies go into per-loop HDR histograms
// (1µs to 60s, 3 significant figures) merged at the end.
//
// Only loopback targets are accepted: the generator is for servers on this
// machine.
package load
