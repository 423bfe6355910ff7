package scan

import (
	"context"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/abusekit/abusekit/internal/procfs"
	"github.com/google/go-cmp/cmp"
)

func TestParentKind(t *testing.T) {
	for _, tc := range []struct {
		pid     int
		comm    string
		exe     string
		cmdline []string
		want    string
	}{
		{1, "systemd", "/usr/lib/systemd/systemd", nil, KindInit},
		{700, "sshd", "/usr/sbin/sshd", []string{"sshd: root@pts/0"}, KindSSHD},
		{701, "sshd-session", "/usr/lib/openssh/sshd-session", nil, KindSSHD},
		{702, "crond", "/usr/sbin/crond", nil, KindCron},
		{703, "tmux: server", "/usr/bin/tmux", nil, KindTerminal},
		{704, "containerd-shim", "/usr/bin/containerd-shim-runc-v2", nil, KindContainer},
		{705, "bash", "/usr/bin/bash", []string{"-bash"}, KindShell},
		{706, "sh", "/usr/bin/dash", []string{"sh", "-c", "while true; do /tmp/.x/work32; sleep 2; done"}, KindSupervisor},
		{707, "bash", "/usr/bin/bash", []string{"bash", "-c", "until false\ndo ./kdevtmpfsi; done"}, KindSupervisor},
		{708, "bash", "/usr/bin/bash", []string{"bash", "-c", "echo done; for x in a b; do :; done"}, KindSupervisor},
		{709, "sh", "/usr/bin/dash", []string{"sh", "-c", "echo while we wait; ./run"}, KindShell},
		{710, "python3", "/usr/bin/python3.12", []string{"python3", "-c", "while True: pass"}, KindProgram},
	} {
		got, why := parentKind(tc.pid, tc.comm, tc.exe, tc.cmdline)
		if got != tc.want || (got == KindSupervisor) != (why != "") {
			t.Errorf("%d %s %q: %s (%q), want %s", tc.pid, tc.comm, tc.cmdline, got, why, tc.want)
		}
	}
}

// TestMarkSupervisorRespawn: a parent that is a plain program and forked
// two other processes of the suspect's executable during the window (seen,
// then gone) is named as its supervisor; one that did not is not.
func TestMarkSupervisorRespawn(t *testing.T) {
	mk := func(pid, ppid int, exe string) *proc {
		return &proc{pid: pid, exe: exe, stat: procfs.ProcStat{PID: pid, PPID: ppid, Comm: filepath.Base(exe)}}
	}
	last := &snapshot{procs: map[int]*proc{10: mk(10, 1, "/usr/local/bin/keeper"), 30: mk(30, 10, "/tmp/.x/kworkerds")}}
	h := &history{multi: true, latest: map[int]*proc{10: last.procs[10], 30: last.procs[30],
		21: mk(21, 10, "/tmp/.x/kworkerds"), 25: mk(25, 10, "/tmp/.x/kworkerds"), 26: mk(26, 10, "/usr/bin/logger")}}
	s := Suspect{PID: 30, Exe: "/tmp/.x/kworkerds", Parents: []Parent{{PID: 10, Comm: "keeper", Exe: "/usr/local/bin/keeper", Kind: KindProgram}, {PID: 1, Kind: KindInit}}}
	markSupervisor(h, last, last.procs[30], &s)
	want := &Parent{PID: 10, Comm: "keeper", Exe: "/usr/local/bin/keeper", Kind: KindSupervisor, Why: "it forked 2 other process(es) of /tmp/.x/kworkerds during the window"}
	if d := cmp.Diff(want, s.Supervisor); d != "" {
		t.Errorf("supervisor (-want +got):\n%s", d)
	}
	if s.Score != weightSupervised || s.Reasons[0].Signal != SignalSupervised {
		t.Errorf("score %d reasons %v", s.Score, s.Reasons)
	}
	delete(h.latest, 21)
	delete(h.latest, 25)
	s = Suspect{PID: 30, Exe: "/tmp/.x/kworkerds", Parents: []Parent{{PID: 10, Kind: KindProgram}}}
	markSupervisor(h, last, last.procs[30], &s)
	if s.Supervisor != nil || s.Score != 0 {
		t.Errorf("no respawn, supervisor %+v", s.Supervisor)
	}
}

// TestSupervisorShellLoop: a copied binary kept running by a shell loop.
// Detect names the loop as supervisor; the plan to stop the child alone
// warns that the loop stays (and indeed it starts the child again); with
// Supervisor the plan takes the loop's tree and Stop leaves nothing to
// respawn.
func TestSupervisorShellLoop(t *testing.T) {
	needLiveRoot(t)
	ctx := context.Background()
	dir := t.TempDir()
	exe := filepath.Join(dir, "work32")
	copyBinary(t, "/bin/sleep", exe)
	loop := exec.Command("/bin/sh", "-c", `while :; do "$0" 600; done`, exe)
	startCmd(t, loop)
	shell := loop.Process.Pid
	fs := procfs.NewDefaultFS()
	child := waitChild(t, fs, shell, 0)

	sus, err := Detect(ctx, Options{MinScore: -1})
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(sus, func(s Suspect) bool { return s.PID == child })
	if i < 0 {
		t.Fatalf("child %d not listed", child)
	}
	s := sus[i]
	if s.Supervisor == nil || s.Supervisor.PID != shell || s.Supervisor.Kind != KindSupervisor || !strings.Contains(s.Supervisor.Why, "loop") {
		t.Errorf("supervisor %+v, want the shell loop %d", s.Supervisor, shell)
	}
	if len(s.Parents) < 2 || s.Parents[0].PID != shell || s.Parents[1].Kind == "" {
		t.Errorf("parents %+v", s.Parents)
	}

	// The child alone: warned, and the loop starts it again.
	plan, err := PlanStop(ctx, child, StopOptions{EvidenceDir: filepath.Join(dir, "ev1"), Freezer: FreezeSignal})
	if err != nil {
		t.Fatal(err)
	}
	if plan.Target.PID != child || len(plan.Warnings) != 1 || !strings.Contains(plan.Warnings[0], "left alive") || plan.Supervisor == nil || plan.Supervisor.PID != shell {
		t.Fatalf("plan target %d warnings %q supervisor %+v", plan.Target.PID, plan.Warnings, plan.Supervisor)
	}
	if _, err := Stop(ctx, plan, ApplyOptions{Apply: true}); err != nil {
		t.Fatal(err)
	}
	again := waitChild(t, fs, shell, child)

	// The supervising tree.
	plan, err = PlanStop(ctx, again, StopOptions{EvidenceDir: filepath.Join(dir, "ev2"), Freezer: FreezeSignal, Supervisor: true})
	if err != nil {
		t.Fatal(err)
	}
	if plan.Target.PID != shell || !slices.ContainsFunc(plan.Tree, func(id Identity) bool { return id.PID == again }) || len(plan.Warnings) != 0 {
		t.Fatalf("plan target %d tree %+v warnings %q", plan.Target.PID, plan.Tree, plan.Warnings)
	}
	res, err := Stop(ctx, plan, ApplyOptions{Apply: true})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(res.Killed, shell) || !slices.Contains(res.Killed, again) {
		t.Errorf("killed %v, want the loop %d and its child %d", res.Killed, shell, again)
	}
	loop.Wait()
	if d := descendants(fs, shell); len(d) != 0 {
		t.Errorf("the loop's tree lives on: %v", d)
	}
}

// waitChild waits for a child of parent other than not.
func waitChild(t *testing.T, fs procfs.FS, parent, not int) int {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		for _, d := range descendants(fs, parent) {
			if d != not {
				if st, err := fs.Stat(d); err == nil && st.Comm == "work32" {
					return d
				}
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no child of %d", parent)
	return 0
}
