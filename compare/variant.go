package compare

import (
	"fmt"
	"strings"

	"github.com/readinesslab/readiness/gnetserver"
)

// Variant is one configuration of a model, spelled
// MODEL[:FLAG=VALUE[:FLAG=VALUE...]] in Options.Models: each FLAG=VALUE
// is passed to the model's server as -FLAG=VALUE after the flags every
// server gets, except the settings in variantEnv, which the server takes
// from its environment. The full spelling is the row's model, so the
// variants of one model stay apart in every table, chart and ratio.
type Variant struct {
	Name  string      // the full spelling, e.g. "epoll:idle=park"
	Model string      // the model the server runs, e.g. "epoll"
	Flags [][2]string // FLAG, VALUE pairs in the order given
}

// variantEnv maps the variant settings that are environment variables of
// the server, not flags, to their variable and the one model they apply
// to.
var variantEnv = map[string]struct{ env, model string }{
	"lock": {gnetserver.LockEnv, "gnet"},
}

// variantOwned are the serve flags compare sets for every server, which a
// variant may not set again.
var variantOwned = map[string]string{
	"addr":  "compare chooses each server's address",
	"loops": "compare passes its own -loops to every server",
}

// ParseVariant reads a model's spelling. It checks the syntax and the
// settings compare itself knows (variantEnv, variantOwned); whether the
// model exists and the serve command takes a flag is for the caller,
// which has the serve command's flags (see Serve).
func ParseVariant(s string) (Variant, error) {
	parts := strings.Split(s, ":")
	v := Variant{Name: s, Model: parts[0]}
	if v.Model == "" {
		return v, fmt.Errorf("model %q: no model name before the first ':'", s)
	}
	for _, p := range parts[1:] {
		flag, value, ok := strings.Cut(p, "=")
		switch {
		case !ok:
			return v, fmt.Errorf("model %q: %q is not FLAG=VALUE", s, p)
		case flag == "" || strings.HasPrefix(flag, "-"):
			return v, fmt.Errorf("model %q: %q: want a flag name without dashes before '='", s, p)
		case variantOwned[flag] != "":
			return v, fmt.Errorf("model %q: -%s cannot vary: %s", s, flag, variantOwned[flag])
		}
		if e, ok := variantEnv[flag]; ok && e.model != v.Model {
			return v, fmt.Errorf("model %q: %s applies to %s only", s, flag, e.model)
		}
		if e, ok := variantEnv[flag]; ok && value != "0" && value != "1" {
			return v, fmt.Errorf("model %q: %s=%q: want 0 or 1 (it sets %s)", s, flag, value, e.env)
		}
		for _, f := range v.Flags {
			if f[0] == flag {
				return v, fmt.Errorf("model %q: %s given twice", s, flag)
			}
		}
		v.Flags = append(v.Flags, [2]string{flag, value})
	}
	return v, nil
}

// Serve is what follows `serve MODEL` for this variant: its flags, each
// as one -FLAG=VALUE argument (the form a boolean flag such as -serial
// needs too), without the settings that go in the environment.
func (v Variant) Serve() []string {
	var out []string
	for _, f := range v.Flags {
		if _, env := variantEnv[f[0]]; !env {
			out = append(out, "-"+f[0]+"="+f[1])
		}
	}
	return out
}

// Env is the KEY=VALUE entries the variant adds to its server's
// environment.
func (v Variant) Env() []string {
	var out []string
	for _, f := range v.Flags {
		if e, ok := variantEnv[f[0]]; ok {
			out = append(out, e.env+"="+f[1])
		}
	}
	return out
}
