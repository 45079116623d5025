package swaksargs

import (
	"slices"
	"testing"
)

func TestEnvArgs(t *testing.T) {
	cases := []struct {
		name    string
		environ []string
		want    []string
	}{
		{"none", []string{"HOME=/root", "PATH=/bin"}, nil},
		{"value and switch", []string{"SWAKS_OPT_server=mx.example.com", "SWAKS_OPT_tls="},
			[]string{"--server", "mx.example.com", "--tls"}},
		{"underscores become dashes", []string{"SWAKS_OPT_auth_user=me"}, []string{"--auth-user", "me"}},
		{"header shortcut", []string{"SWAKS_OPT_h_X_Test=on"}, []string{"--h-X-Test", "on"}},
		{"<> is no value", []string{"SWAKS_OPT_from=<>"}, []string{"--from"}},
		{"sorted by name", []string{"SWAKS_OPT_to=a@example.com", "SWAKS_OPT_from=b@example.com"},
			[]string{"--from", "b@example.com", "--to", "a@example.com"}},
		{"value with =", []string{"SWAKS_OPT_auth_password=a=b"}, []string{"--auth-password", "a=b"}},
		{"malformed entries ignored", []string{"SWAKS_OPT_", "SWAKS_OPT_=x", "garbage"}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := EnvArgs(c.environ); !slices.Equal(got, c.want) {
				t.Errorf("EnvArgs(%q) = %q, want %q", c.environ, got, c.want)
			}
		})
	}
}

// TestEnvThenCommandLine: the command line overrides or forgets what the
// environment set, as in swaks.
func TestEnvThenCommandLine(t *testing.T) {
	env := EnvArgs([]string{"SWAKS_OPT_server=env.example.com", "SWAKS_OPT_tls=", "SWAKS_OPT_h_X_Env=1"})
	got, err := Translate(append(env, argv("--to x@example.com --no-tls --no-h-X --server cli.example.com")...), leadFlagSet(), nil)
	if err != nil {
		t.Fatal(err)
	}
	want := argv("--server=env.example.com --to=x@example.com --tls=false --server=cli.example.com")
	if !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}
