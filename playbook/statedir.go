package playbook

import (
	"errors"
	"os"
	"path/filepath"
)

// DefaultStateDir is where abusekit keeps what must outlive a run, so that
// any run can be resumed and its quarantines restored (the journal, the
// quarantine manifests' key, a contained instance's saved configuration):
// $ABUSEKIT_STATE_DIR when it is an absolute path; /var/lib/abusekit as
// root; otherwise the XDG state directory, $XDG_STATE_HOME/abusekit or
// ~/.local/state/abusekit. It is never a temporary directory: with none of
// these known it is an error.
func DefaultStateDir() (string, error) {
	return stateDir(os.Geteuid(), os.Getenv, os.UserHomeDir)
}

// DefaultJournalDir is the journal directory in DefaultStateDir, the
// Options.JournalDir to use when the operator names none; print
// Runner.JournalPath so the operator knows what to resume.
func DefaultJournalDir() (string, error) {
	d, err := DefaultStateDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(d, "journal"), nil
}

func stateDir(euid int, getenv func(string) string, home func() (string, error)) (string, error) {
	if d := getenv("ABUSEKIT_STATE_DIR"); filepath.IsAbs(d) {
		return filepath.Clean(d), nil
	}
	if euid == 0 {
		return "/var/lib/abusekit", nil
	}
	if x := getenv("XDG_STATE_HOME"); filepath.IsAbs(x) {
		return filepath.Join(x, "abusekit"), nil
	}
	h, err := home()
	if err != nil || !filepath.IsAbs(h) {
		return "", errors.New("playbook: no state directory: set ABUSEKIT_STATE_DIR, XDG_STATE_HOME or HOME")
	}
	return filepath.Join(h, ".local", "state", "abusekit"), nil
}

// JournalPath is the file of the runner's journal ("" without
// Options.JournalDir): what to print so that the operator can resume.
func (r *Runner) JournalPath() string {
	if r.opts.JournalDir == "" {
		return ""
	}
	return JournalPath(r.opts.JournalDir, r.opts.Incident)
}
