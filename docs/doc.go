// Package docs holds the lab's explanations (the Markdown files here) and the
// outputs they quote, captured from the tool itself. `go generate ./docs`
// runs the experiments again on this machine and rewrites the captures;
// docs_test.go checks that the commands the pages quote exist, that the
// files and functions they point at exist, and that the captures have the
// shape the generator gives them.
package docs

//go:generate sh -c "go run ../cmd/readiness trace all -markdown > trace-all.md"
//go:generate sh -c "go run ../cmd/readiness slow -markdown > slow-results.md"
//go:generate sh -c "go run ../cmd/readiness slow -delay 8s -markdown > slow-8s-results.md"
//go:generate sh -c "go run ../cmd/readiness idle -markdown > idle-results.md"
