// Package docs holds the lab's explanations (the Markdown files here) and the
// outputs they quote, captured from the tool itself. `go generate ./docs`
// runs the experiments again on this machine and rewrites the captures;
// docs_test.go checks that the commands the pages quote exist and accept
// their flags, that the files and functions they point at exist, that the
// captures have the shape their generator gives them, and that a fresh trace
// shows the same steps as the captured one.
package docs

//go:generate sh -c "go run ../cmd/readiness trace -markdown all > trace-all.md.tmp && mv trace-all.md.tmp trace-all.md"
//go:generate sh -c "go run ../cmd/readiness trace -markdown -serve=-loops=2 std > trace-std.md.tmp && mv trace-std.md.tmp trace-std.md"
//go:generate sh -c "go run ../cmd/readiness trace -markdown -serve=-loops=2,-delay=20ms std > trace-std-delay.md.tmp && mv trace-std-delay.md.tmp trace-std-delay.md"
//go:generate sh -c "go run ../cmd/readiness slow -markdown > slow-results.md.tmp && mv slow-results.md.tmp slow-results.md"
//go:generate sh -c "go run ../cmd/readiness slow -delay 8s -markdown > slow-8s-results.md.tmp && mv slow-8s-results.md.tmp slow-8s-results.md"
//go:generate sh -c "go run ../cmd/readiness idle -markdown > idle-results.md.tmp && mv idle-results.md.tmp idle-results.md"
//go:generate sh -c "go run ../cmd/readiness idle -conns 18000 -markdown > idle-18k-results.md.tmp && mv idle-18k-results.md.tmp idle-18k-results.md"
//go:generate sh -c "go run -ldflags=-s=false ../cmd/readiness journey -markdown all > journey-all.md.tmp && mv journey-all.md.tmp journey-all.md"
//go:generate sh -c "go run -ldflags=-s=false ../cmd/readiness journey -markdown -net veth std > journey-veth.md.tmp && mv journey-veth.md.tmp journey-veth.md"
//go:generate sh -c "go run -ldflags=-s=false ../cmd/readiness journey -markdown -conns 200 -serve=-loops=4,-accept=shared,-idle=block epoll > journey-herd-shared.md.tmp && mv journey-herd-shared.md.tmp journey-herd-shared.md"
//go:generate sh -c "go run -ldflags=-s=false ../cmd/readiness journey -markdown -conns 200 -serve=-loops=4,-accept=exclusive,-idle=block epoll > journey-herd-exclusive.md.tmp && mv journey-herd-exclusive.md.tmp journey-herd-exclusive.md"
//go:generate sh -c "go run -ldflags=-s=false ../cmd/readiness journey -markdown -conns 200 -serve=-loops=4,-accept=reuseport,-idle=block epoll > journey-herd-reuseport.md.tmp && mv journey-herd-reuseport.md.tmp journey-herd-reuseport.md"
