package playbook_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/abusekit/abusekit/playbook"
)

func TestJournalAppendReopenAndTornTail(t *testing.T) {
	dir := t.TempDir()
	j, recs, err := playbook.OpenJournal(dir, "case-1")
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 0 {
		t.Fatalf("new journal has %d records", len(recs))
	}
	t0 := time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC)
	want := []playbook.Record{
		{Type: playbook.RecordRunStarted, Time: t0, Playbook: "p", Incident: "case-1", RunnerPID: 7},
		{Type: playbook.RecordStepFinished, Time: t0, Playbook: "p", Incident: "case-1", Step: "a", Status: "succeeded",
			Output: json.RawMessage(`{"x":1}`), Duration: time.Millisecond},
	}
	for _, r := range want {
		if err := j.Append(r, true); err != nil {
			t.Fatal(err)
		}
	}
	// A second runner cannot open the journal while the first has it.
	if _, _, err := playbook.OpenJournal(dir, "case-1"); !errors.Is(err, playbook.ErrJournalLocked) {
		t.Errorf("second open: %v, want ErrJournalLocked", err)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	// A crash mid-write leaves a torn last line.
	path := playbook.JournalPath(dir, "case-1")
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"type":"step_finished","step":"b","sta`)
	f.Close()

	j, recs, err = playbook.OpenJournal(dir, "case-1")
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(want, recs); d != "" {
		t.Errorf("records (-want +got):\n%s", d)
	}
	// Appending after a torn tail cuts the tail first.
	extra := playbook.Record{Type: playbook.RecordRunFinished, Time: t0, Playbook: "p", Status: "succeeded"}
	if err := j.Append(extra, true); err != nil {
		t.Fatal(err)
	}
	j.Close()
	b, _ := os.ReadFile(path)
	got, err := playbook.ReadJournal(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("journal after torn tail: %v\n%s", err, b)
	}
	if d := cmp.Diff(append(want, extra), got); d != "" {
		t.Errorf("records (-want +got):\n%s", d)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("journal mode %v, want 0600", fi.Mode().Perm())
	}
}

func TestReadJournalCorruptLine(t *testing.T) {
	in := `{"type":"run_started","playbook":"p"}` + "\n" + `not json` + "\n" + `{"type":"run_finished"}` + "\n"
	_, err := playbook.ReadJournal(strings.NewReader(in))
	if !errors.Is(err, playbook.ErrJournalCorrupt) || !strings.Contains(err.Error(), "line 2") {
		t.Fatalf("err = %v, want ErrJournalCorrupt at line 2", err)
	}
	_, err = playbook.ReadJournal(strings.NewReader(`{"playbook":"p"}` + "\n"))
	if !errors.Is(err, playbook.ErrJournalCorrupt) {
		t.Errorf("record without type: %v", err)
	}
}

func TestJournalPathIsSafe(t *testing.T) {
	for _, incident := range []string{"../../etc/passwd", "a/b", ".", "..", strings.Repeat("x", 300), "case 1"} {
		p := playbook.JournalPath("/j", incident)
		if filepath.Dir(p) != "/j" || !strings.HasPrefix(filepath.Base(p), "incident-") {
			t.Errorf("JournalPath(%q) = %q", incident, p)
		}
	}
	if p := playbook.JournalPath("/j", "case-123"); p != "/j/case-123.journal.jsonl" {
		t.Errorf("JournalPath = %q", p)
	}
}

func TestRunJournalsEveryStep(t *testing.T) {
	dir := t.TempDir()
	r := newRunner(t, mustNew(t, "p",
		playbook.Step{ID: "a", Plugin: "util", Action: "greet", Input: map[string]any{"name": "x"}},
		playbook.Step{ID: "b", Plugin: "util", Action: "greet", If: `steps.a.message == "nothing"`}),
		playbook.Options{Incident: "case-j", JournalDir: dir})
	if _, err := r.Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	r.Close()
	recs := readJournalFile(t, playbook.JournalPath(dir, "case-j"))
	want := []string{"run_started", "plan_approved", "step_started a", "step_finished a succeeded", "step_finished b skipped", "run_finished"}
	if d := cmp.Diff(want, journalSummary(recs)); d != "" {
		t.Errorf("journal (-want +got):\n%s", d)
	}
	if recs[2].IdempotencyToken != playbook.IdempotencyToken("case-j", "p", "a") || string(recs[2].Input) != `{"name":"x"}` {
		t.Errorf("step_started = %+v", recs[2])
	}
}

func FuzzReadJournal(f *testing.F) {
	b, err := os.ReadFile("testdata/journal.jsonl")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add([]byte(`{"type":"run_started"}` + "\n" + `{"type":"step_fin`))
	f.Fuzz(func(t *testing.T, data []byte) {
		recs, err := playbook.ReadJournal(bytes.NewReader(data))
		if err != nil {
			if !errors.Is(err, playbook.ErrJournalCorrupt) {
				t.Fatalf("error %v does not wrap ErrJournalCorrupt", err)
			}
			return
		}
		// What was read writes back and reads again the same.
		var buf bytes.Buffer
		for _, r := range recs {
			line, err := json.Marshal(r)
			if err != nil {
				t.Fatal(err)
			}
			buf.Write(append(line, '\n'))
		}
		again, err := playbook.ReadJournal(&buf)
		if err != nil {
			t.Fatalf("re-read: %v", err)
		}
		if len(again) != len(recs) {
			t.Fatalf("re-read %d records, want %d", len(again), len(recs))
		}
	})
}

// TestJournalSyncs: every step_started record is on stable storage before
// the plugin is called (and with it the previous step's end), and every directory created for the journal has its
// entry synced in its parent (tmp, a and b for a/b/c), as has the journal's
// own entry in c.
func TestJournalSyncs(t *testing.T) {
	var mu sync.Mutex
	var synced []string
	defer playbook.ObserveJournalSyncs(func(what string) {
		mu.Lock()
		defer mu.Unlock()
		synced = append(synced, what)
	})()
	base := t.TempDir()
	dir := filepath.Join(base, "a", "b", "c")
	r := newRunner(t, mustNew(t, "p",
		playbook.Step{ID: "a", Plugin: "util", Action: "greet", Input: map[string]any{"name": "x"}},
		playbook.Step{ID: "b", Plugin: "util", Action: "greet", Input: map[string]any{"name": "y"}}),
		playbook.Options{Incident: "case-sync", JournalDir: dir})
	if _, err := r.Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	r.Close()
	mu.Lock()
	defer mu.Unlock()
	want := []string{
		"dir " + base, "dir " + filepath.Join(base, "a"), "dir " + filepath.Join(base, "a", "b"), "dir " + dir,
		// A step's end is synced with the next record: the next step's
		// start, or the run's end.
		"plan_approved", "step_started", "step_started", "run_finished",
	}
	if d := cmp.Diff(want, synced); d != "" {
		t.Errorf("journal syncs (-want +got):\n%s", d)
	}
}

// TestJournalZerosAhead: an open journal keeps zeros ahead of its records
// (so that a synced record changes no size or allocation); a reader of the
// file while it is open, or after a crash, sees the records alone; Close
// cuts the zeros off. A crash's residue in them (a record partly written,
// then zeros, then a later record's end, none of it synced) is a tail:
// OpenJournal keeps the records before it and cuts the rest off.
func TestJournalZerosAhead(t *testing.T) {
	dir := t.TempDir()
	path := playbook.JournalPath(dir, "case-z")
	j, _, err := playbook.OpenJournal(dir, "case-z")
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 12, 7, 8, 0, 0, 0, time.UTC)
	want := []playbook.Record{
		{Type: playbook.RecordRunStarted, Time: t0, Playbook: "p"},
		{Type: playbook.RecordStepStarted, Time: t0, Playbook: "p", Step: "a"},
	}
	for _, r := range want {
		if err := j.Append(r, true); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(path) // as after a crash: the runner still has it open
	if err != nil {
		t.Fatal(err)
	}
	end := bytes.LastIndexByte(b, '\n') + 1
	if len(b) <= end || bytes.Count(b[end:], []byte{0}) != len(b)-end {
		t.Fatalf("open journal: %d bytes, records end at %d: want zeros written ahead", len(b), end)
	}
	got, err := playbook.ReadJournal(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("records of the open journal (-want +got):\n%s", d)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(path); fi.Size() != int64(end) {
		t.Errorf("closed journal is %d bytes, records %d: zeros left", fi.Size(), end)
	}

	// Crash residue after the last synced record.
	residue := append([]byte{}, b[:end]...)
	residue = append(residue, `{"type":"step_finished","step":"a","sta`...)
	residue = append(residue, make([]byte, 100)...)
	residue = append(residue, `"p"}`+"\n"+`{"type":"run_finished","playbook":"p"}`+"\n"...)
	residue = append(residue, make([]byte, 4096)...)
	if err := os.WriteFile(path, residue, 0o600); err != nil {
		t.Fatal(err)
	}
	j, got, err = playbook.OpenJournal(dir, "case-z")
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("records after a crash (-want +got):\n%s", d)
	}
	extra := playbook.Record{Type: playbook.RecordRunFinished, Time: t0, Playbook: "p", Status: "failed"}
	if err := j.Append(extra, true); err != nil {
		t.Fatal(err)
	}
	j.Close()
	b, _ = os.ReadFile(path)
	if bytes.IndexByte(b, 0) >= 0 {
		t.Errorf("journal after recovery holds NULs:\n%q", b)
	}
	if got, err = playbook.ReadJournal(bytes.NewReader(b)); err != nil || !cmp.Equal(append(want, extra), got) {
		t.Errorf("journal after recovery: %v\n%s", err, b)
	}
}
