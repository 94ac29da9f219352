// Package trace runs a server under strace, drives a short client script
// against it and turns strace's output into an annotated sequence: which
// thread made each call, what it returned (EAGAIN shown), and a note at each
// step saying what the call means for the server's I/O model.
//
// A note says plainly what is observed and what is inferred. Its words
// before "inferred: " (InferredMark) restate what strace recorded: the call,
// its arguments and what they ask of the kernel, its result, its thread, its
// timing. The words after it are deduced from the calls, because strace
// sees none of it: which runtime function made a call (netpollinit,
// netpollopen, netpollBreak), and what the runtime or the kernel did between
// calls (a goroutine parks or becomes runnable, a futex wake reaches a
// given thread). Where readiness journey records such an event itself, with
// uprobes on the runtime and kernel tracepoints, the note ends with
// "(readiness journey MODEL observes it)". A Step with a deduced part has
// Inferred set. Thread roles and fd names are inferred from the calls too,
// as the legend says.
//
// The package does not know the models: the caller names the server and
// passes its serve arguments.
package trace
