package persist

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// A line longer than any field dpkg writes (a hostile status file) is
// skipped, and the packages after it are still read.
func TestParseDpkgConffilesLongLine(t *testing.T) {
	status := "Package: big\nStatus: install ok installed\nDescription: " + strings.Repeat("x", 2<<20) + "\n\n" +
		"Package: cron\nStatus: install ok installed\nConffiles:\n /etc/crontab 0123456789abcdef0123456789abcdef\n /etc/cron.d/.placeholder fedcba9876543210fedcba9876543210\r\nDescription: cron\n"
	got := map[string]pkgFile{}
	parseDpkgConffiles([]byte(status), got)
	want := map[string]pkgFile{
		"etc/crontab":             {pkg: "cron", digest: "0123456789abcdef0123456789abcdef", conffile: true},
		"etc/cron.d/.placeholder": {pkg: "cron", digest: "fedcba9876543210fedcba9876543210", conffile: true},
	}
	if d := cmp.Diff(want, got, cmp.AllowUnexported(pkgFile{})); d != "" {
		t.Errorf("conffiles (-want +got):\n%s", d)
	}
}
