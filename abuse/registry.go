package abuse

import (
	"context"
	"io"
	"slices"
)

// sniffBytes is how much of the input Parse reads ahead to detect its format.
const sniffBytes = 64 << 10

// format is one top-level input format that Parse can detect and read.
// Each format's file registers itself from an init function, so that the
// formats can live in files of their own.
type format struct {
	name     string // as named in errors and logs: "mail", "guardduty", …
	priority int    // lower is tried first
	// sniff reports whether head, the first (up to sniffBytes) bytes of the
	// input, looks like this format. It must be cheap and must not panic.
	sniff func(head []byte) bool
	// parse reads the whole input. r yields the input from its first byte.
	parse func(ctx context.Context, r io.Reader, o *options) ([]Report, error)
}

var formats []format

// registerFormat adds f to the formats Parse tries, in priority order.
func registerFormat(f format) {
	formats = append(formats, f)
	slices.SortStableFunc(formats, func(a, b format) int { return a.priority - b.priority })
}
