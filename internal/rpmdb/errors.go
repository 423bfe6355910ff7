package rpmdb

import (
	"errors"
	"fmt"
)

// ErrNoDatabase is returned (wrapped) by Read when the root holds no rpm
// database in any of the places rpm keeps one.
var ErrNoDatabase = errors.New("rpmdb: no rpm database")

// ErrCorrupt is returned (wrapped) for data that does not follow the rpm
// header or Berkeley DB format: truncated, out of bounds, inconsistent.
var ErrCorrupt = errors.New("rpmdb: corrupt data")

// ErrLimit is returned (wrapped) when the database exceeds one of the
// Limits given to Read.
var ErrLimit = errors.New("rpmdb: limit exceeded")

// ErrUnsupported is returned (wrapped) for a database in a variant this
// package does not read (an encrypted or checksummed Berkeley DB, a btree,
// duplicate items).
var ErrUnsupported = errors.New("rpmdb: unsupported database")

// HeaderError reports where ParseHeader gave up. It unwraps to Err, or
// to ErrCorrupt when Err is nil.
type HeaderError struct {
	Tag    int    // the tag being read, 0 for the header's framing
	Offset int    // byte offset in the blob where the problem was found
	Msg    string // what was wrong
	Err    error  // ErrLimit for too many files; nil (ErrCorrupt) otherwise
}

func (e *HeaderError) Error() string {
	if e.Tag != 0 {
		return fmt.Sprintf("rpmdb: header: tag %d at offset %d: %s", e.Tag, e.Offset, e.Msg)
	}
	return fmt.Sprintf("rpmdb: header: offset %d: %s", e.Offset, e.Msg)
}

func (e *HeaderError) Unwrap() error {
	if e.Err != nil {
		return e.Err
	}
	return ErrCorrupt
}

// PageError reports where the Berkeley DB reader gave up. It unwraps to
// Err (ErrCorrupt, ErrLimit or ErrUnsupported).
type PageError struct {
	Pgno uint32 // the page being read (0 is the metadata page)
	Msg  string
	Err  error
}

func (e *PageError) Error() string {
	return fmt.Sprintf("rpmdb: berkeley db: page %d: %s", e.Pgno, e.Msg)
}

func (e *PageError) Unwrap() error { return e.Err }
