package conformance

import (
	"flag"
	"strconv"
	"testing"
)

// Parallel is how many subtests run at once unless -parallel says
// otherwise. They mostly wait on the network and on timers, not on a CPU,
// so the testing package's default, GOMAXPROCS, would leave a small machine
// idle and the body several times slower.
const Parallel = 8

// Main runs the tests of a server package, whose TestMain calls it, with
// -parallel Parallel unless the command line sets -parallel.
func Main(m *testing.M) int {
	flag.Parse()
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "test.parallel" })
	if !set {
		flag.Set("test.parallel", strconv.Itoa(Parallel))
	}
	return m.Run()
}
