package docs

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
)

// bin is the readiness binary built for these tests.
var bin string

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "readiness-docs")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	bin = filepath.Join(dir, "readiness")
	if out, err := exec.Command("go", "build", "-o", bin, "../cmd/readiness").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "go build ../cmd/readiness: %v\n%s", err, out)
		return 1
	}
	return m.Run()
}

// pages reads every Markdown file of docs/.
func pages(t *testing.T) map[string]string {
	t.Helper()
	files, err := filepath.Glob("*.md")
	if err != nil || len(files) == 0 {
		t.Fatalf("no Markdown files: %v", err)
	}
	out := map[string]string{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out[f] = string(b)
	}
	return out
}

var (
	spanRE    = regexp.MustCompile("`([^`\n]+)`")
	fenceRE   = regexp.MustCompile("(?s)```[a-z]*\n(.*?)```")
	indentRE  = regexp.MustCompile(`(?m)^(?:    |\t)(.+)$`)
	commandRE = regexp.MustCompile(`^(?:\$ )?(?:go run \./cmd/readiness|(?:\./)?readiness) ([a-z]+)\b(.*)$`)
	// placeholders stand for a value in a quoted command; the test runs it
	// with a sample value of the same kind.
	placeholders = map[string]string{"D": "1s", "N": "1", "MODEL": "epoll", "HOST:PORT": "127.0.0.1:0", "FILE": "out"}
)

// commands finds the readiness commands a page quotes, in code spans, in
// fenced blocks and in indented blocks, with any shell redirection cut off.
func commands(page string) [][]string {
	var lines []string
	for _, m := range fenceRE.FindAllStringSubmatch(page, -1) {
		lines = append(lines, strings.Split(m[1], "\n")...)
	}
	rest := fenceRE.ReplaceAllString(page, "")
	for _, m := range indentRE.FindAllStringSubmatch(rest, -1) {
		lines = append(lines, m[1])
	}
	for _, m := range spanRE.FindAllStringSubmatch(rest, -1) {
		lines = append(lines, m[1])
	}
	var out [][]string
	for _, l := range lines {
		l = strings.TrimSpace(l)
		if i := strings.IndexAny(l, ">|&;"); i >= 0 {
			l = strings.TrimSpace(l[:i])
		}
		m := commandRE.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		args := []string{m[1]}
		for _, f := range strings.Fields(m[2]) {
			if strings.Contains(f, "…") || f == "..." || f == "[flags]" {
				continue
			}
			if v, ok := placeholders[f]; ok {
				f = v
			}
			args = append(args, f)
		}
		out = append(out, args)
	}
	return out
}

var helpFlagRE = regexp.MustCompile(`(?m)^\s+-([a-z][a-z0-9-]*)(?: (\S+))?`)

// flagSets reads the flags of a subcommand from its -h output: each name,
// and whether it takes a value (PrintDefaults names a type after those).
func flagSet(t *testing.T, sub string, cache map[string]map[string]bool) (map[string]bool, bool) {
	if fs, ok := cache[sub]; ok {
		return fs, fs != nil
	}
	out, err := exec.Command(bin, sub, "-h").CombinedOutput()
	if err != nil || strings.Contains(string(out), "unknown command") {
		cache[sub] = nil
		return nil, false
	}
	fs := map[string]bool{}
	for _, m := range helpFlagRE.FindAllStringSubmatch(string(out), -1) {
		fs[m[1]] = m[2] != ""
	}
	cache[sub] = fs
	return fs, true
}

// checkFlags reports the flags of args (after the subcommand) that the
// subcommand does not define. The value of trace's -serve is a list of
// serve flags and is checked against serve's.
func checkFlags(t *testing.T, sub string, args []string, cache map[string]map[string]bool) []string {
	fs, ok := flagSet(t, sub, cache)
	if !ok {
		return []string{"subcommand " + sub}
	}
	var bad []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "-") || a == "-" {
			continue
		}
		name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		takes, defined := fs[name]
		if !defined {
			bad = append(bad, a)
			continue
		}
		if takes && !hasValue && i+1 < len(args) {
			i++
			value, hasValue = args[i], true
		}
		if sub == "trace" && name == "serve" && hasValue {
			var serveArgs []string
			for _, f := range strings.Split(value, ",") {
				serveArgs = append(serveArgs, strings.SplitN(f, "=", 2)[0])
			}
			for _, b := range checkFlags(t, "serve", serveArgs, cache) {
				bad = append(bad, "-serve "+b)
			}
		}
	}
	return bad
}

// TestQuotedCommands checks every readiness command the pages quote: the
// subcommand exists, each flag appears in its -h output, and the command
// line parses (it is run with -h appended, so nothing is started).
func TestQuotedCommands(t *testing.T) {
	cache := map[string]map[string]bool{}
	seen := map[string]bool{}
	for file, page := range pages(t) {
		for _, args := range commands(page) {
			key := strings.Join(args, " ")
			if seen[key] {
				continue
			}
			seen[key] = true
			if bad := checkFlags(t, args[0], args[1:], cache); len(bad) > 0 {
				t.Errorf("%s quotes `readiness %s`: not defined: %s", file, key, strings.Join(bad, ", "))
				continue
			}
			cmd := exec.Command(bin, append(args, "-h")...)
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			if err := cmd.Run(); err != nil {
				t.Errorf("%s quotes `readiness %s`, which does not parse: %v\n%s", file, key, err, out.String())
			}
		}
	}
	if len(seen) < 15 {
		t.Errorf("only %d distinct commands quoted in docs/: the pattern no longer finds them?", len(seen))
	}
}

var (
	linkRE  = regexp.MustCompile(`\[([^\]]+)\]\(([^)#\s]+)(#[^)]*)?\)`)
	goSrcRE = regexp.MustCompile(`^https://github\.com/golang/go/blob/(go[0-9.]+)/src/(.+)$`)
	identRE = regexp.MustCompile("^`(?:\\(\\*?[A-Za-z0-9_]+\\)\\.|[A-Za-z0-9_]+\\.)*([A-Za-z_][A-Za-z0-9_]*)(?:\\(\\))?`$")
)

// TestLinksPointAtRealCode checks every link to a file of this repository
// and to the Go source of the release the docs were written against: the
// file exists and, when the link text is an identifier in backquotes, the
// file declares it.
func TestLinksPointAtRealCode(t *testing.T) {
	checked, named := 0, 0
	for file, page := range pages(t) {
		for _, m := range linkRE.FindAllStringSubmatch(page, -1) {
			text, target := m[1], m[2]
			var path string
			switch {
			case strings.HasPrefix(target, "http"):
				g := goSrcRE.FindStringSubmatch(target)
				if g == nil {
					continue
				}
				release := g[1][:strings.LastIndex(g[1], ".")]
				if !strings.HasPrefix(runtime.Version(), release+".") && runtime.Version() != release {
					continue // another Go release: its source is not here to check against
				}
				path = filepath.Join(runtime.GOROOT(), "src", g[2])
			default:
				path = filepath.Clean(target)
			}
			st, err := os.Stat(path)
			if err != nil {
				t.Errorf("%s links to %s, which does not exist", file, target)
				continue
			}
			checked++
			if st.IsDir() {
				continue
			}
			id := identRE.FindStringSubmatch(text)
			if id == nil {
				continue // prose, not an identifier
			}
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			named++
			name := regexp.QuoteMeta(id[1])
			decl := regexp.MustCompile(`(?m)^func (\([^)]*\) )?` + name + `[\[(]|^(type|var|const) ` + name + `\b|^\t` + name + `\s+[=\w*\[(]`)
			if !decl.Match(b) {
				t.Errorf("%s: [%s](%s): %s declares no %s", file, text, target, path, id[1])
			}
		}
	}
	if checked < 40 || named < 30 {
		t.Errorf("%d links checked, %d of them naming a declaration: the pages should point at the code they explain", checked, named)
	}
}
