package playbook

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Journal record types.
const (
	RecordRunStarted = "run_started"
	// RecordPlanApproved holds the plan approved for the run (Plan), synced
	// before any step runs; each planned step's Apply gets its part back.
	RecordPlanApproved = "plan_approved"
	// RecordStepApproved holds the plan of a step made during the run (a
	// Plan of that one step) once it was approved, durable before the step
	// acts.
	RecordStepApproved = "step_approved"
	RecordStepStarted  = "step_started"
	// RecordStepNote is a note an action kept before changing something
	// (plugin Progress.Note), synced before the action goes on.
	RecordStepNote     = "step_note"
	RecordStepFinished = "step_finished"
	RecordRunFinished  = "run_finished"
)

// Record is one line of a journal.
type Record struct {
	Type             string          `json:"type"`
	Time             time.Time       `json:"time"`
	Playbook         string          `json:"playbook"`
	Incident         string          `json:"incident,omitempty"`
	Step             string          `json:"step,omitempty"`
	Plugin           string          `json:"plugin,omitempty"`
	Action           string          `json:"action,omitempty"`
	Attempt          int             `json:"attempt,omitempty"`
	IdempotencyToken string          `json:"idempotency_token,omitempty"`
	Input            json.RawMessage `json:"input,omitempty"`
	Status           string          `json:"status,omitempty"`
	Output           json.RawMessage `json:"output,omitempty"`
	Error            *RecordError    `json:"error,omitempty"`
	Duration         time.Duration   `json:"duration_ns,omitempty"`
	RunnerPID        int             `json:"runner_pid,omitempty"`
	PluginPID        int             `json:"plugin_pid,omitempty"`
	// Transport and CommandID say where a finished step ran (step_finished;
	// StepResult's), so a resumed run still shows it.
	Transport string      `json:"transport,omitempty"`
	CommandID string      `json:"command_id,omitempty"`
	Plan      *Plan       `json:"plan,omitempty"` // plan_approved
	Note      *RecordNote `json:"note,omitempty"` // step_note
	// Digest is what the run was made from (run_started): a resume
	// compares its own with the latest.
	Digest *RunDigest `json:"digest,omitempty"`
	// Replanned are the steps this run re-plans after a change of the
	// playbook or inputs (run_started, Options.Replan): what an earlier run
	// recorded of them no longer counts.
	Replanned []string `json:"replanned,omitempty"`
}

// RecordNote is a step's note as the journal keeps it.
type RecordNote struct {
	Key   string          `json:"key"`
	Value json.RawMessage `json:"value"`
}

// RecordError is an error as a journal keeps it.
type RecordError struct {
	Code    string `json:"code,omitempty"`
	Message string `json:"message"`
}

// Journal errors.
var (
	ErrJournalCorrupt = errors.New("playbook: journal corrupt")
	ErrJournalLocked  = errors.New("playbook: journal in use by another runner")
)

// MaxRecordSize bounds one journal line.
const MaxRecordSize = 16 << 20

// ReadJournal reads journal records. A last line without its newline is
// the torn tail of a write interrupted by a crash and is ignored, as is
// everything from the first line holding a NUL byte (which JSON never
// does): the zeros a journal writes ahead of its records, or a crash's
// residue in them, all after its last sync. Any other bad line is an error
// naming its line (wrapping ErrJournalCorrupt).
func ReadJournal(r io.Reader) ([]Record, error) {
	recs, _, err := readJournal(r)
	return recs, err
}

// readJournal also returns how many bytes of whole lines it read.
func readJournal(r io.Reader) ([]Record, int64, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	var (
		recs []Record
		good int64
		line int
		buf  []byte
	)
	for {
		chunk, err := br.ReadSlice('\n')
		buf = append(buf, chunk...)
		if errors.Is(err, bufio.ErrBufferFull) {
			if len(buf) > MaxRecordSize {
				return recs, good, fmt.Errorf("%w: line %d longer than %d bytes", ErrJournalCorrupt, line+1, MaxRecordSize)
			}
			continue
		}
		if err == io.EOF {
			// A torn tail, zeros written ahead, or nothing: ignore.
			return recs, good, nil
		}
		if err != nil {
			return recs, good, fmt.Errorf("playbook: read journal: %w", err)
		}
		line++
		if bytes.IndexByte(buf, 0) >= 0 {
			// JSON never holds a raw NUL: this is space the journal
			// wrote ahead (zeros past the last record), or a crash's
			// residue there, after the last sync. The rest is a tail.
			return recs, good, nil
		}
		text := bytes.TrimSpace(buf)
		if len(text) > 0 {
			var rec Record
			dec := json.NewDecoder(bytes.NewReader(text))
			if err := dec.Decode(&rec); err != nil {
				return recs, good, fmt.Errorf("%w: line %d: %v", ErrJournalCorrupt, line, err)
			}
			if dec.More() {
				return recs, good, fmt.Errorf("%w: line %d: trailing data", ErrJournalCorrupt, line)
			}
			if rec.Type == "" {
				return recs, good, fmt.Errorf("%w: line %d: record without a type", ErrJournalCorrupt, line)
			}
			recs = append(recs, rec)
		}
		good += int64(len(buf))
		buf = buf[:0]
	}
}

// Journal is an append-only JSON-lines file, one per incident, that makes a
// run resumable. It is locked while open, so two runners cannot interleave.
//
// While open, the file is kept ahead of its records with zeros (written,
// not fallocated, in chunks of journalChunk), and records overwrite them in
// place: a synced record then changes no file size and no block allocation,
// so its fdatasync writes the data alone instead of also committing the
// file system's metadata (on ext4 ~155 µs instead of ~230 µs at the median
// here, and a p90 of ~0.4 ms instead of 0.8-5 ms). The first sync after a
// chunk is added makes that chunk's size and blocks durable with the
// record. Close cuts the zeros off; after a crash, readers ignore them (see
// ReadJournal) and OpenJournal cuts them off.
type Journal struct {
	mu    sync.Mutex
	f     *os.File
	path  string
	off   int64 // end of the records
	alloc int64 // size of the file: [off, alloc) is zeros written ahead
	// unsynced is the type of the last record appended and not yet synced
	// ("" when every record is durable).
	unsynced string
}

// journalChunk is how much the journal writes ahead at a time.
const journalChunk = 256 << 10

var safeNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)

// JournalPath returns the journal file of an incident in dir.
func JournalPath(dir, incident string) string {
	name := incident
	if !safeNameRE.MatchString(name) || name == "." || name == ".." {
		sum := sha256.Sum256([]byte(incident))
		name = "incident-" + hex.EncodeToString(sum[:12])
	}
	return filepath.Join(dir, name+".journal.jsonl")
}

// OpenJournal opens (creating dir and file as needed) the journal of an
// incident, locks it, and returns the records already in it. A torn tail
// left by a crash is cut off before anything is appended.
func OpenJournal(dir, incident string) (*Journal, []Record, error) {
	if incident == "" {
		return nil, nil, errors.New("playbook: journal needs an incident id")
	}
	if err := mkdirAllDurable(dir); err != nil {
		return nil, nil, fmt.Errorf("playbook: journal dir: %w", err)
	}
	path := JournalPath(dir, incident)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, nil, fmt.Errorf("playbook: open journal: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, nil, fmt.Errorf("%w: %s", ErrJournalLocked, path)
		}
		return nil, nil, fmt.Errorf("playbook: lock journal: %w", err)
	}
	recs, good, err := readJournal(f)
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("playbook: journal: %w", err)
	}
	if st.Size() != good {
		if err := f.Truncate(good); err != nil {
			f.Close()
			return nil, nil, fmt.Errorf("playbook: cut torn journal tail: %w", err)
		}
		if err := syncFile(f, "truncate"); err != nil {
			f.Close()
			return nil, nil, fmt.Errorf("playbook: cut torn journal tail: %w", err)
		}
	}
	if _, err := f.Seek(good, io.SeekStart); err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("playbook: journal: %w", err)
	}
	if st.Size() == 0 {
		// Make the new file's directory entry durable.
		if err := syncDir(dir); err != nil {
			f.Close()
			return nil, nil, fmt.Errorf("playbook: journal dir: %w", err)
		}
	}
	return &Journal{f: f, path: path, off: good, alloc: good}, recs, nil
}

// Path is the journal's file.
func (j *Journal) Path() string { return j.path }

// Append writes one record; with sync it is on stable storage when Append
// returns.
func (j *Journal) Append(rec Record, sync bool) error {
	b, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("playbook: journal record: %w", err)
	}
	b = append(b, '\n')
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.f == nil {
		return errors.New("playbook: journal closed")
	}
	if j.off+int64(len(b)) > j.alloc {
		if err := j.grow(int64(len(b))); err != nil {
			return fmt.Errorf("playbook: journal write: %w", err)
		}
	}
	if _, err := j.f.WriteAt(b, j.off); err != nil {
		// What was written of it is overwritten by the next record.
		return fmt.Errorf("playbook: journal write: %w", err)
	}
	j.off += int64(len(b))
	j.unsynced = rec.Type
	if sync {
		if err := syncFile(j.f, rec.Type); err != nil {
			return fmt.Errorf("playbook: journal sync: %w", err)
		}
		j.unsynced = ""
	}
	return nil
}

// Sync makes every record appended so far durable, if any is not yet.
func (j *Journal) Sync() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.f == nil {
		return errors.New("playbook: journal closed")
	}
	if j.unsynced == "" {
		return nil
	}
	if err := syncFile(j.f, j.unsynced); err != nil {
		return fmt.Errorf("playbook: journal sync: %w", err)
	}
	j.unsynced = ""
	return nil
}

// grow writes zeros ahead of the records, at least need bytes' worth.
func (j *Journal) grow(need int64) error {
	n := max(int64(journalChunk), (need+4095)&^4095)
	zeros := make([]byte, min(n, 64<<10))
	for done := int64(0); done < n; {
		w := min(int64(len(zeros)), n-done)
		if _, err := j.f.WriteAt(zeros[:w], j.alloc+done); err != nil {
			return err
		}
		done += w
	}
	j.alloc += n
	return nil
}

// syncObserver, when set (by tests), is told of every sync the journal
// makes: the type of the record synced, "truncate", or "dir " and the
// directory's path.
var syncObserver func(what string)

// syncFault, when set (by tests), is asked before every sync of a record;
// an error it returns is the sync's, and nothing is synced.
var syncFault func(what string) error

func syncFile(f *os.File, what string) error {
	if syncFault != nil {
		if err := syncFault(what); err != nil {
			return err
		}
	}
	if err := unix.Fdatasync(int(f.Fd())); err != nil {
		return err
	}
	if syncObserver != nil {
		syncObserver(what)
	}
	return nil
}

// syncDir makes the entries of a directory durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return err
	}
	if syncObserver != nil {
		syncObserver("dir " + dir)
	}
	return nil
}

// mkdirAllDurable is os.MkdirAll (mode 0700) that also makes every
// directory it creates durable: after each mkdir the parent holding the new
// entry is fsynced, so a crash cannot lose the journal's directory (and with
// it the journal) after the journal reported a record on stable storage.
func mkdirAllDurable(dir string) error {
	dir = filepath.Clean(dir)
	var missing []string
	for d := dir; ; d = filepath.Dir(d) {
		st, err := os.Stat(d)
		if err == nil {
			if !st.IsDir() {
				return &os.PathError{Op: "mkdir", Path: d, Err: syscall.ENOTDIR}
			}
			break
		}
		if !errors.Is(err, os.ErrNotExist) {
			return err
		}
		missing = append(missing, d)
		if filepath.Dir(d) == d {
			break
		}
	}
	for i := len(missing) - 1; i >= 0; i-- {
		d := missing[i]
		if err := os.Mkdir(d, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
			return err
		}
		if err := syncDir(filepath.Dir(d)); err != nil {
			return err
		}
	}
	return nil
}

// Close syncs and closes the journal, releasing its lock.
func (j *Journal) Close() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.f == nil {
		return nil
	}
	var err error
	if j.alloc > j.off {
		err = j.f.Truncate(j.off) // the zeros written ahead
	}
	if serr := j.f.Sync(); err == nil {
		err = serr
	}
	if cerr := j.f.Close(); err == nil {
		err = cerr
	}
	j.f = nil
	return err
}
