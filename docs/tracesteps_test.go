package docs

import (
	"regexp"
	"strings"
)

// traceModel is what a trace section shows that does not depend on timing:
// the client's script, and the calls made on each connection.
type traceModel struct {
	script []string            // the client's steps, in order
	conns  map[string][]string // conn#N: its calls with the kind of their results
}

var (
	sectionRE = regexp.MustCompile(`(?m)^## ([a-z]+)$`)
	clientRE  = regexp.MustCompile(`^\s*[\d.]+\s+---- (client: .*)$`)
	callRE    = regexp.MustCompile(`^\s*[\d.]+\s+T\d+\s+(\w+)\((.*)$`)
	connRE    = regexp.MustCompile(`conn#\d+`)
	acceptRE  = regexp.MustCompile(`accepts (conn#\d+)`)
)

// parseTrace reads every model section of a trace capture made by
// readiness trace -markdown.
func parseTrace(doc string) map[string]traceModel {
	out := map[string]traceModel{}
	locs := sectionRE.FindAllStringSubmatchIndex(doc, -1)
	for i, loc := range locs {
		end := len(doc)
		if i+1 < len(locs) {
			end = locs[i+1][0]
		}
		body := doc[loc[1]:end]
		if !strings.Contains(body, "Script (") {
			continue
		}
		// Setup is read too: the clocks of the client and of strace differ
		// a little, so a first accept may be printed before the script.
		m := traceModel{conns: map[string][]string{}}
		for _, line := range strings.Split(body, "\n") {
			if c := clientRE.FindStringSubmatch(line); c != nil {
				m.script = append(m.script, c[1])
				continue
			}
			conn, step := callStep(line)
			if step != "" {
				m.conns[conn] = append(m.conns[conn], step)
			}
		}
		out[doc[loc[2]:loc[3]]] = m
	}
	return out
}

// callStep names the connection a trace line acts on and the step it
// shows, or returns "" for lines that are not a step on a connection:
// epoll waits (what they report depends on timing), reads that return
// EAGAIN, and calls on the runtime's or the loop's own fds.
func callStep(line string) (conn, step string) {
	c := callRE.FindStringSubmatch(line)
	if c == nil {
		return "", ""
	}
	name := c[1]
	args, rest, ok := strings.Cut(c[2], ") = ")
	if !ok {
		return "", ""
	}
	result := strings.Fields(rest)
	if len(result) == 0 {
		return "", ""
	}
	fields := strings.Split(args, ", ")
	switch name {
	case "epoll_wait", "epoll_pwait", "epoll_pwait2":
		return "", ""
	case "accept4":
		m := acceptRE.FindStringSubmatch(rest)
		if m == nil {
			return "", ""
		}
		return m[1], name
	}
	conn = connRE.FindString(args)
	if conn == "" {
		return "", ""
	}
	eagain := len(result) > 1 && result[1] == "EAGAIN"
	switch name {
	case "read", "recvfrom", "write", "writev", "sendto", "sendmsg":
		switch {
		case eagain:
			return "", ""
		case result[0] == "0":
			return conn, name + " = 0"
		case strings.HasPrefix(result[0], "-"):
			return conn, name + " = " + strings.Join(result[:min(2, len(result))], " ")
		}
		return conn, name + " > 0"
	case "epoll_ctl":
		step = name
		for _, f := range fields {
			if f == "ADD" || f == "MOD" || f == "DEL" || strings.HasPrefix(f, "EPOLL") {
				step += " " + f
			}
		}
		return conn, step
	case "setsockopt", "getsockopt":
		if len(fields) > 1 {
			return conn, name + " " + fields[1]
		}
	}
	return conn, name
}
