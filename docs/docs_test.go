package docs

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
)

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
	commandRE = regexp.MustCompile(`^(?:\$ )?(?:go run \./cmd/readiness|readiness) ([a-z]+)\b(.*)$`)
)

// commands finds the readiness commands a page quotes, in code spans and
// in fenced blocks, with any shell redirection cut off.
func commands(page string) [][]string {
	var lines []string
	for _, m := range fenceRE.FindAllStringSubmatch(page, -1) {
		lines = append(lines, strings.Split(m[1], "\n")...)
	}
	for _, m := range spanRE.FindAllStringSubmatch(fenceRE.ReplaceAllString(page, ""), -1) {
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
		var args []string
		for _, f := range strings.Fields(m[2]) {
			if strings.ContainsAny(f, "…") || f == "..." || f == "[flags]" {
				continue
			}
			args = append(args, f)
		}
		out = append(out, append([]string{m[1]}, args...))
	}
	return out
}

// TestQuotedCommandsParse runs every quoted command with -h appended: the
// subcommand must exist and accept the flags and arguments before it.
func TestQuotedCommandsParse(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "readiness")
	if out, err := exec.Command("go", "build", "-o", bin, "../cmd/readiness").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	seen := map[string]bool{}
	n := 0
	for file, page := range pages(t) {
		for _, args := range commands(page) {
			key := strings.Join(args, " ")
			if seen[key] {
				continue
			}
			seen[key] = true
			n++
			cmd := exec.Command(bin, append(args, "-h")...)
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			err := cmd.Run()
			if err != nil || strings.Contains(out.String(), "flag provided but not defined") || strings.Contains(out.String(), "unknown command") {
				t.Errorf("%s quotes `readiness %s`, which does not parse: %v\n%s", file, key, err, out.String())
			}
		}
	}
	if n < 5 {
		t.Errorf("only %d commands quoted in docs/: the pattern no longer finds them?", n)
	}
}

var (
	linkRE  = regexp.MustCompile(`\[([^\]]+)\]\(([^)#\s]+)(#[^)]*)?\)`)
	goSrcRE = regexp.MustCompile(`^https://github\.com/golang/go/blob/(go[0-9.]+)/src/(.+)$`)
	identRE = regexp.MustCompile("^`?(?:\\(\\*?[A-Za-z0-9_]+\\)\\.|[A-Za-z0-9_]+\\.)*([A-Za-z_][A-Za-z0-9_]*)(?:\\(\\))?`?$")
)

// TestLinksPointAtRealCode checks every link to a file of this repository
// (and to the Go source of the release the docs were checked against): the
// file exists and, when the link text names a function, declares it.
func TestLinksPointAtRealCode(t *testing.T) {
	goroot := runtime.GOROOT()
	checked := 0
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
				if !strings.HasPrefix(runtime.Version(), g[1][:strings.LastIndex(g[1], ".")]) {
					continue // another Go release: its source is not here to check against
				}
				path = filepath.Join(goroot, "src", g[2])
			default:
				path = filepath.Clean(target)
			}
			b, err := os.ReadFile(path)
			if err != nil {
				if st, serr := os.Stat(path); serr == nil && st.IsDir() {
					continue
				}
				t.Errorf("%s links to %s, which does not exist", file, target)
				continue
			}
			checked++
			id := identRE.FindStringSubmatch(text)
			if id == nil || !strings.Contains(text, "`") {
				continue // prose, not an identifier
			}
			name := id[1]
			decl := regexp.MustCompile(`(?m)^func (\([^)]*\) )?` + regexp.QuoteMeta(name) + `[\[(]|^\s*(type|var|const)?\s*` + regexp.QuoteMeta(name) + `\s`)
			if !decl.Match(b) {
				t.Errorf("%s: [%s](%s): %s declares no %s", file, text, target, path, name)
			}
		}
	}
	if checked < 10 {
		t.Errorf("only %d links checked: the pages should point at the code they explain", checked)
	}
}

// TestCapturesHaveTheirShape checks the generated captures: each is made by
// a go:generate line of doc.go, and has the header and tables its
// generator writes (not the figures, which differ from run to run).
func TestCapturesHaveTheirShape(t *testing.T) {
	gen, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	captures := map[string][]string{
		"trace-all.md":       {"## Calls per system call during the script", "| syscall |", "## epoll", "## gnet", "## std", "---- client: connects conn#1", "EAGAIN"},
		"slow-results.md":    {"| server | first_s | second_s | why |", "| std -serial |", "| epoll block |", "| gnet timer |"},
		"slow-8s-results.md": {"| server | first_s | second_s | why |", "8s"},
		"idle-results.md":    {"| server | conns | ok |", "| epoll |", "| gnet |", "| std |"},
	}
	for name, wants := range captures {
		if !strings.Contains(string(gen), "> "+name+`"`) {
			t.Errorf("%s: no go:generate line in doc.go writes it", name)
		}
		b, err := os.ReadFile(name)
		if err != nil {
			t.Errorf("%s: %v (run go generate ./docs)", name, err)
			continue
		}
		page := string(b)
		for _, want := range append([]string{"# ", "Generated by `go generate ./docs`", "- Machine: ", "- Reproduce: `go run ./cmd/readiness "}, wants...) {
			if !strings.Contains(page, want) {
				t.Errorf("%s lacks %q: regenerate it with go generate ./docs", name, want)
			}
		}
	}
}
