package playbook_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/abusekit/abusekit/playbook"
)

// TestNoteIsDurableBeforeTheChange: an action keeps the original state as a
// note (plugin Progress.Note), changes it, and its plugin process dies right
// after. The note was synced to the journal before the action went on (the
// action checks the journal file before its change), and the next attempt,
// in a new plugin process, or a new runner resuming the incident, gets it
// back and restores the original state.
func TestNoteIsDurableBeforeTheChange(t *testing.T) {
	for _, mode := range []string{"retry", "resume"} {
		t.Run(mode, func(t *testing.T) {
			var mu sync.Mutex
			var synced []string
			defer playbook.ObserveJournalSyncs(func(what string) {
				mu.Lock()
				defer mu.Unlock()
				synced = append(synced, what)
			})()
			dir := t.TempDir()
			state := filepath.Join(dir, "state")
			if err := os.WriteFile(state, []byte("sg-orig"), 0o600); err != nil {
				t.Fatal(err)
			}
			jdir := filepath.Join(dir, "journal")
			incident := "case-note-" + mode
			jpath := playbook.JournalPath(jdir, incident)
			attempts := 2
			if mode == "resume" {
				attempts = 1
			}
			pb := mustNew(t, "note", playbook.Step{ID: "contain", Plugin: "util", Action: "noted",
				Input: map[string]any{"state": state, "journal": jpath, "crash_first": true},
				Retry: playbook.Retry{Attempts: attempts, Backoff: time.Millisecond}})
			var ev eventLog
			r := newRunner(t, pb, playbook.Options{Incident: incident, JournalDir: jdir, OnEvent: ev.add})
			run, err := r.Run(t.Context())
			if mode == "resume" {
				if err == nil {
					t.Fatal("the crashing attempt succeeded")
				}
				if b, _ := os.ReadFile(state); string(b) != "quarantine" {
					t.Fatalf("state after the crash = %q", b)
				}
				r.Close()
				r = newRunner(t, pb, playbook.Options{Incident: incident, JournalDir: jdir, OnEvent: ev.add})
				run, err = r.Run(t.Context())
			}
			if err != nil {
				t.Fatal(err)
			}
			var out struct {
				Original string
				Restored bool
			}
			if err := json.Unmarshal(run.Steps[0].Output, &out); err != nil {
				t.Fatal(err)
			}
			if out.Original != "sg-orig" || !out.Restored {
				t.Errorf("output %+v, want the original restored from the note", out)
			}
			if b, _ := os.ReadFile(state); string(b) != "sg-orig" {
				t.Errorf("state = %q, want sg-orig restored", b)
			}
			r.Close()
			recs := readJournalFile(t, jpath)
			var notes []playbook.RecordNote
			for _, rec := range recs {
				if rec.Type == playbook.RecordStepNote {
					notes = append(notes, *rec.Note)
				}
			}
			if d := cmp.Diff([]playbook.RecordNote{{Key: "original", Value: json.RawMessage(`"sg-orig"`)}}, notes); d != "" {
				t.Errorf("journaled notes (-want +got):\n%s", d)
			}
			mu.Lock()
			defer mu.Unlock()
			if !slices.Contains(synced, playbook.RecordStepNote) {
				t.Errorf("the note was never synced: %q", synced)
			}
			if !slices.Contains(ev.kinds(), "step_note contain") {
				t.Errorf("no step_note event: %q", ev.kinds())
			}
		})
	}
}
