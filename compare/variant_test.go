package compare

import (
	"slices"
	"strings"
	"testing"
)

func TestParseVariant(t *testing.T) {
	for _, tc := range []struct {
		in         string
		model      string
		serve, env []string
		err        string // a part of the error; empty: no error
	}{
		{in: "epoll", model: "epoll"},
		{in: "epoll:idle=park", model: "epoll", serve: []string{"-idle=park"}},
		{in: "epoll:idle=spin:trigger=level", model: "epoll", serve: []string{"-idle=spin", "-trigger=level"}},
		{in: "std:serial=true", model: "std", serve: []string{"-serial=true"}},
		{in: "gnet:lock=1", model: "gnet", env: []string{"READINESS_GNET_LOCK=1"}},
		{in: "gnet:lock=1:trigger=edge", model: "gnet", serve: []string{"-trigger=edge"}, env: []string{"READINESS_GNET_LOCK=1"}},
		{in: "epoll:idle", err: `"idle" is not FLAG=VALUE`},
		{in: ":idle=park", err: "no model name"},
		{in: "epoll:=park", err: "flag name"},
		{in: "epoll:-idle=park", err: "flag name"},
		{in: "epoll:idle=park:idle=block", err: "idle given twice"},
		{in: "epoll:addr=1.2.3.4:5", err: "cannot vary"},
		{in: "epoll:loops=2", err: "cannot vary"},
		{in: "epoll:lock=1", err: "lock applies to gnet only"},
		{in: "gnet:lock=yes", err: "want 0 or 1"},
	} {
		v, err := ParseVariant(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseVariant(%q) = %v, want an error containing %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseVariant(%q): %v", tc.in, err)
			continue
		}
		if v.Name != tc.in || v.Model != tc.model || !slices.Equal(v.Serve(), tc.serve) || !slices.Equal(v.Env(), tc.env) {
			t.Errorf("ParseVariant(%q) = name %q model %q serve %q env %q, want model %q serve %q env %q",
				tc.in, v.Name, v.Model, v.Serve(), v.Env(), tc.model, tc.serve, tc.env)
		}
	}
}

func TestValidateVariants(t *testing.T) {
	o := Default()
	o.Binary = "readiness"
	o.Models = []string{"epoll", "epoll:idle=park", "gnet", "gnet:lock=1"}
	if err := o.Validate(); err != nil {
		t.Errorf("distinct variants: %v", err)
	}
	o.Models = []string{"epoll:idle=park", "epoll:idle=park"}
	if err := o.Validate(); err == nil || !strings.Contains(err.Error(), "given twice") {
		t.Errorf("a variant given twice: %v, want an error", err)
	}
	o.Models = []string{"epoll:idle"}
	if err := o.Validate(); err == nil {
		t.Error("a setting without '=': no error")
	}
}
