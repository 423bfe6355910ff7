package ec2

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
)

// ContainStore keeps, per incident, the record of the configuration
// Contain found before it changed anything (each interface's security
// groups, the protection attributes it turns on, Auto Scaling and target
// group membership, the tags it adds). ApplyContain saves it before its
// first mutating call and again when it ends, so that a run that dies
// part-way leaves it behind: a re-run, or Undo/Release, finds the
// original there even though EC2 no longer shows it.
//
// Save must return only once the record is on stable storage.
type ContainStore interface {
	// Load returns the saved record of the incident, or nil and no error
	// if there is none.
	Load(ctx context.Context, incidentID string) (*ContainUndo, error)
	// Save replaces the incident's record, durably.
	Save(ctx context.Context, u *ContainUndo) error
}

// WithContainStore makes ApplyContain record the original configuration in
// s before its first mutating call (and fail, having changed nothing, if
// it cannot).
func WithContainStore(s ContainStore) Option { return func(o *Options) { o.Store = s } }

// FileContainStore is a ContainStore keeping one JSON file per incident in
// a directory: written to a new file, fsynced, renamed over the old one,
// and the directory fsynced.
type FileContainStore struct {
	dir string
}

// maxRecord bounds the size of a record file read back (a record for
// thousands of instances is a few MiB).
const maxRecord = 64 << 20

// NewFileContainStore returns a store in dir, creating it (0700) if needed.
func NewFileContainStore(dir string) (*FileContainStore, error) {
	if dir == "" {
		return nil, fmt.Errorf("%w: empty contain store directory", ErrInvalidInput)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("ec2: contain store: %w", err)
	}
	return &FileContainStore{dir: dir}, nil
}

// Path is the file holding incidentID's record.
func (s *FileContainStore) Path(incidentID string) string {
	h := sha256.Sum256([]byte(incidentID))
	return filepath.Join(s.dir, "contain-"+hex.EncodeToString(h[:12])+".json")
}

// Load implements ContainStore.
func (s *FileContainStore) Load(_ context.Context, incidentID string) (*ContainUndo, error) {
	f, err := os.Open(s.Path(incidentID))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("ec2: contain store: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxRecord+1))
	if err != nil {
		return nil, fmt.Errorf("ec2: contain store: %w", err)
	}
	if len(b) > maxRecord {
		return nil, fmt.Errorf("%w: contain record %s is larger than %d bytes", ErrInvalidInput, f.Name(), maxRecord)
	}
	var u ContainUndo
	if err := json.Unmarshal(b, &u); err != nil {
		return nil, fmt.Errorf("%w: contain record %s: %v", ErrInvalidInput, f.Name(), err)
	}
	if u.Incident.ID != incidentID {
		return nil, fmt.Errorf("%w: contain record %s is of incident %q, not %q", ErrInvalidInput, f.Name(), u.Incident.ID, incidentID)
	}
	return &u, nil
}

// Save implements ContainStore.
func (s *FileContainStore) Save(_ context.Context, u *ContainUndo) (err error) {
	if u == nil {
		return fmt.Errorf("%w: nil contain record", ErrInvalidInput)
	}
	b, err := json.MarshalIndent(u.clone(), "", "  ")
	if err != nil {
		return fmt.Errorf("ec2: contain store: %w", err)
	}
	final := s.Path(u.Incident.ID)
	tmp, err := os.CreateTemp(s.dir, ".contain-*.tmp")
	if err != nil {
		return fmt.Errorf("ec2: contain store: %w", err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err = tmp.Write(b); err != nil {
		return fmt.Errorf("ec2: contain store: %w", err)
	}
	if err = tmp.Sync(); err != nil {
		return fmt.Errorf("ec2: contain store: %w", err)
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("ec2: contain store: %w", err)
	}
	if err = os.Rename(tmp.Name(), final); err != nil {
		return fmt.Errorf("ec2: contain store: %w", err)
	}
	d, err := os.Open(s.dir)
	if err != nil {
		return fmt.Errorf("ec2: contain store: %w", err)
	}
	defer d.Close()
	if err = d.Sync(); err != nil {
		return fmt.Errorf("ec2: contain store: sync %s: %w", s.dir, err)
	}
	return nil
}

// clone copies the record under its lock.
func (u *ContainUndo) clone() *ContainUndo {
	u.mu.Lock()
	defer u.mu.Unlock()
	c := &ContainUndo{Step: u.Step, Incident: u.Incident, CreatedGroups: slices.Clone(u.CreatedGroups), Records: slices.Clone(u.Records),
		DNSFirewallAssociations: slices.Clone(u.DNSFirewallAssociations)}
	for _, iu := range u.Instances {
		x := iu
		x.Interfaces = nil
		for _, e := range iu.Interfaces {
			x.Interfaces = append(x.Interfaces, Interface{NetworkInterfaceID: e.NetworkInterfaceID, Groups: slices.Clone(e.Groups)})
		}
		x.TagsAdded = slices.Clone(iu.TagsAdded)
		x.DeleteOnTerminationWas = slices.Clone(iu.DeleteOnTerminationWas)
		x.NetworkACLEntries = slices.Clone(iu.NetworkACLEntries)
		x.RolePolicies = slices.Clone(iu.RolePolicies)
		x.TargetGroups = slices.Clone(iu.TargetGroups)
		c.Instances = append(c.Instances, x)
	}
	return c
}

// mergeOriginal returns old with what it lacks taken from add: for each
// instance, each interface's groups, each protection value, the Auto
// Scaling group and the target groups old already records win (they were
// read before anything changed); the rest of add is added.
func mergeOriginal(old, add *ContainUndo) *ContainUndo {
	if old == nil {
		out := add.clone()
		out.sort()
		return out
	}
	out := old.clone()
	a := add.clone()
	for _, g := range a.CreatedGroups {
		if !slices.Contains(out.CreatedGroups, g) {
			out.CreatedGroups = append(out.CreatedGroups, g)
		}
	}
	for _, id := range a.DNSFirewallAssociations {
		if !slices.Contains(out.DNSFirewallAssociations, id) {
			out.DNSFirewallAssociations = append(out.DNSFirewallAssociations, id)
		}
	}
	for _, r := range a.Records {
		if !slices.ContainsFunc(out.Records, func(x InstanceRecord) bool { return x.InstanceID == r.InstanceID }) {
			out.Records = append(out.Records, r)
		}
	}
	for _, ai := range a.Instances {
		out.update(ai.InstanceID, func(u *InstanceUndo) {
			for _, e := range ai.Interfaces {
				if !slices.ContainsFunc(u.Interfaces, func(x Interface) bool { return x.NetworkInterfaceID == e.NetworkInterfaceID }) {
					u.Interfaces = append(u.Interfaces, e)
				}
			}
			if u.TerminationProtectionWas == nil {
				u.TerminationProtectionWas = ai.TerminationProtectionWas
			}
			if u.StopProtectionWas == nil {
				u.StopProtectionWas = ai.StopProtectionWas
			}
			if u.ShutdownBehaviorWas == "" {
				u.ShutdownBehaviorWas = ai.ShutdownBehaviorWas
			}
			if u.InstanceProfileWas == "" {
				u.InstanceProfileWas = ai.InstanceProfileWas
			}
			for _, rp := range ai.RolePolicies {
				if !slices.Contains(u.RolePolicies, rp) {
					u.RolePolicies = append(u.RolePolicies, rp)
				}
			}
			for _, e := range ai.NetworkACLEntries {
				if !slices.Contains(u.NetworkACLEntries, e) {
					u.NetworkACLEntries = append(u.NetworkACLEntries, e)
				}
			}
			for _, d := range ai.DeleteOnTerminationWas {
				if !slices.Contains(u.DeleteOnTerminationWas, d) {
					u.DeleteOnTerminationWas = append(u.DeleteOnTerminationWas, d)
				}
			}
			for _, k := range ai.TagsAdded {
				if !slices.Contains(u.TagsAdded, k) {
					u.TagsAdded = append(u.TagsAdded, k)
				}
			}
			if u.AutoScalingGroup == "" {
				u.AutoScalingGroup, u.ASGAction, u.Decremented = ai.AutoScalingGroup, ai.ASGAction, ai.Decremented
			}
			for _, t := range ai.TargetGroups {
				if !slices.Contains(u.TargetGroups, t) {
					u.TargetGroups = append(u.TargetGroups, t)
				}
			}
		})
	}
	out.sort()
	return out
}
