// Command readiness runs the three servers of the lab (epoll, gnet, std) and
// the tools that measure and explain them. Each subcommand lives in its own
// file and registers itself here.
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
)

// command is one subcommand. run gets the arguments after the subcommand's
// name and returns the process exit code.
type command struct {
	name    string
	summary string
	run     func(args []string) int
}

var commands = map[string]command{}

func register(c command) { commands[c.name] = c }

func main() {
	if len(os.Args) < 2 {
		usage(os.Stderr)
		os.Exit(2)
	}
	name := os.Args[1]
	switch name {
	case "-h", "-help", "--help", "help":
		usage(os.Stdout)
		return
	}
	c, ok := commands[name]
	if !ok {
		fmt.Fprintf(os.Stderr, "readiness: unknown command %q\n\n", name)
		usage(os.Stderr)
		os.Exit(2)
	}
	os.Exit(c.run(os.Args[2:]))
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "readiness: three HTTP/1.1 servers (a hand-written epoll loop, gnet, and Go's net")
	fmt.Fprintln(w, "package) answering the same bytes, and the tools to measure and explain them.")
	fmt.Fprintln(w, "\nUsage: readiness COMMAND [flags]   (readiness COMMAND -h explains one)")
	fmt.Fprintln(w, "\nCommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-8s %s\n", n, commands[n].summary)
	}
}

// printJSON writes v to stdout as indented JSON, the form of every
// subcommand's -json output; it returns the exit code.
func printJSON(name string, v any) int {
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		fmt.Fprintf(os.Stderr, "readiness %s: %v\n", name, err)
		return 1
	}
	return 0
}
