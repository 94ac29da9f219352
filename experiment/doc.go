// Package experiment runs the lab's experiments against servers started as
// child processes of the readiness binary: slow (two requests against a slow
// handler: when does each answer arrive?) and idle (what an idle keep-alive
// connection costs the server in memory, the kernel's objects included, and
// threads).
//
// The package does not know the models: callers pass each server's name and
// its serve arguments.
package experiment
