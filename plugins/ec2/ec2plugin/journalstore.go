package ec2plugin

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/abusekit/abusekit/playbook/plugin"
	"github.com/abusekit/abusekit/plugins/ec2"
)

// noteContainOriginal is the key of contain's note in the runner's journal.
const noteContainOriginal = "contain.original"

// journaledStore keeps contain's original configuration twice before the
// first change: in the state directory's file store (the incident record)
// and, synced, in the runner's journal as a step note, which later attempts
// and resumed runs get back even when the state directory was lost.
type journaledStore struct {
	file  *ec2.FileContainStore
	note  func(ctx context.Context, key string, value any) error
	notes map[string]json.RawMessage
}

func newJournaledStore(file *ec2.FileContainStore, p plugin.Progress, notes map[string]json.RawMessage) *journaledStore {
	return &journaledStore{file: file, note: p.Note, notes: notes}
}

// Load returns the file store's record, else the journal's.
func (s *journaledStore) Load(ctx context.Context, incidentID string) (*ec2.ContainUndo, error) {
	u, err := s.file.Load(ctx, incidentID)
	if err != nil || u != nil {
		return u, err
	}
	raw, ok := s.notes[noteContainOriginal]
	if !ok {
		return nil, nil
	}
	var j ec2.ContainUndo
	if err := json.Unmarshal(raw, &j); err != nil {
		return nil, fmt.Errorf("ec2plugin: contain's note in the journal: %w", err)
	}
	if j.Incident.ID != "" && j.Incident.ID != incidentID {
		return nil, nil
	}
	return &j, nil
}

// Save writes the record to the file store, then to the journal; an error
// from either stops contain before its change.
func (s *journaledStore) Save(ctx context.Context, u *ec2.ContainUndo) error {
	if err := s.file.Save(ctx, u); err != nil {
		return err
	}
	if err := s.note(ctx, noteContainOriginal, u); err != nil {
		return fmt.Errorf("ec2plugin: keep contain's original configuration in the journal: %w", err)
	}
	return nil
}
