package abuse

import (
	"errors"
	"fmt"
)

// ErrUnknownFormat is returned (wrapped, naming the formats tried) when no
// parser recognises the input.
var ErrUnknownFormat = errors.New("abuse: unknown report format")

// ErrTooLarge is returned (wrapped) when input exceeds a configured limit:
// a line, a MIME part count, a nesting depth, or the whole input.
var ErrTooLarge = errors.New("abuse: input exceeds limit")

// ParseError reports where a parser gave up.
type ParseError struct {
	Format string // "mail", "trust-and-safety", "guardduty", "x-arf", "arf", "evidence", …
	Line   int    // 1-based line of the input where known, else 0
	Err    error
}

func (e *ParseError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("abuse: %s: line %d: %v", e.Format, e.Line, e.Err)
	}
	return fmt.Sprintf("abuse: %s: %v", e.Format, e.Err)
}

func (e *ParseError) Unwrap() error { return e.Err }
