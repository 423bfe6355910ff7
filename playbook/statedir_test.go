package playbook

import (
	"errors"
	"testing"
)

func TestStateDir(t *testing.T) {
	home := func(h string) func() (string, error) {
		return func() (string, error) {
			if h == "" {
				return "", errors.New("no home")
			}
			return h, nil
		}
	}
	for _, tc := range []struct {
		name string
		euid int
		env  map[string]string
		home string
		want string // "" : an error
	}{
		{"explicit", 1000, map[string]string{"ABUSEKIT_STATE_DIR": "/srv/ir/", "XDG_STATE_HOME": "/x"}, "/home/a", "/srv/ir"},
		{"explicit as root", 0, map[string]string{"ABUSEKIT_STATE_DIR": "/srv/ir"}, "/root", "/srv/ir"},
		{"relative explicit ignored", 0, map[string]string{"ABUSEKIT_STATE_DIR": "ir"}, "/root", "/var/lib/abusekit"},
		{"root", 0, map[string]string{"XDG_STATE_HOME": "/x"}, "/root", "/var/lib/abusekit"},
		{"xdg", 1000, map[string]string{"XDG_STATE_HOME": "/home/a/.state"}, "/home/a", "/home/a/.state/abusekit"},
		{"relative xdg ignored", 1000, map[string]string{"XDG_STATE_HOME": ".state"}, "/home/a", "/home/a/.local/state/abusekit"},
		{"home", 1000, nil, "/home/a", "/home/a/.local/state/abusekit"},
		{"nothing: never a temporary directory", 1000, nil, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := stateDir(tc.euid, func(k string) string { return tc.env[k] }, home(tc.home))
			if got != tc.want || (err != nil) != (tc.want == "") {
				t.Errorf("stateDir = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func TestDefaultJournalDir(t *testing.T) {
	t.Setenv("ABUSEKIT_STATE_DIR", "/srv/ir")
	if got, err := DefaultJournalDir(); got != "/srv/ir/journal" || err != nil {
		t.Errorf("DefaultJournalDir = %q, %v", got, err)
	}
}
