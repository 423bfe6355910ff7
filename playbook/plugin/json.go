package plugin

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
)

// unmarshalStrict decodes one JSON document into v, refusing unknown fields
// and trailing data.
func unmarshalStrict(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("trailing data after the input document")
	}
	return nil
}
