package evidence

import (
	"bytes"
	"testing"
	"time"
)

func TestParseTimeAll(t *testing.T) {
	c := newConfig(Options{Reference: ref})
	kst := newConfig(Options{Reference: ref.In(time.FixedZone("KST", 9*3600))})
	for _, tc := range []struct {
		in   string
		c    *config
		want time.Time
		ok   bool
	}{
		{"Thu Apr 27 14:46:47 2023", &c, seedTime, true},
		{"thu apr 27 14:46:47 2023", &c, seedTime, true},
		{"Thursday April 27 14:46:47 2023", &c, seedTime, true},
		{"Thu Apr 27 14:46:47 GMT 2023", &c, seedTime, true},
		{"Thu Apr 27 10:46:47 EDT 2023", &c, seedTime, true},
		{"Thu Apr 27 14:46:47 2023 +0000", &c, seedTime, true},
		{"Thu, 27 Apr 2023 14:46:47 GMT", &c, seedTime, true},
		{"Thu, 27 Apr 2023 14:46:47 (UTC)", &c, seedTime, true},
		{"Thu, 27 Apr 2023 07:46:47 -0700", &c, seedTime, true},
		{"27 Apr 2023 14:46:47 GMT", &c, seedTime, true},
		{"27 Apr 2023 14:46:47", &c, seedTime, true},
		{"2023-04-27T14:46:47Z", &c, seedTime, true},
		{"2023-04-27t14:46:47z", &c, seedTime, true},
		{"2023-04-27T16:46:47+02", &c, seedTime, true},
		{"2023-04-27T16:46:47+0200", &c, seedTime, true},
		{"2023-04-27T16:46:47.000+02:00", &c, seedTime, true},
		{"2023-04-27T14:46:47.123456789123Z", &c, utc(2023, 4, 27, 14, 46, 47, 123456789), true},
		{"2023-04-27 14:46:47", &c, seedTime, true},
		{"2023/04/27 14:46:47", &c, seedTime, true},
		{"2023-04-27 14:46:47,5", &c, utc(2023, 4, 27, 14, 46, 47, 5e8), true},
		{"2023-04-27 14:46:47 UTC", &c, seedTime, true},
		{"2023-04-27 23:46:47", &kst, seedTime, true}, // no zone: the reference's
		{"Apr 27 23:46:47", &kst, seedTime, true},
		{"Apr 27 14:46:47", &c, seedTime, true},
		{"Apr 27 14:46:47.250", &c, utc(2023, 4, 27, 14, 46, 47, 25e7), true},
		{"Apr 27 14:46:47 2023", &c, seedTime, true},
		{"May 2 08:59:59", &c, utc(2023, 5, 2, 8, 59, 59, 0), true},  // < 1 day ahead: this year
		{"May 2 09:00:01", &c, utc(2022, 5, 2, 9, 0, 1, 0), true},    // > 1 day ahead: last year
		{"Feb 29 12:00:00", &c, utc(2020, 2, 29, 12, 0, 0, 0), true}, // the last leap year
		{"Dec 31 23:59:59", &c, utc(2022, 12, 31, 23, 59, 59, 0), true},
		{"[27/Apr/2023:16:46:47 +0200]", &c, seedTime, true},
		{"Thursday, 27-Apr-23 14:46:47 UTC", &c, seedTime, true},
		{"Apr 27, 2023 14:46:47", &c, seedTime, true},
		{"2023-02-29T00:00:00Z", &c, time.Time{}, false},
		{"2023-04-31 00:00:00", &c, time.Time{}, false},
		{"2023-13-01 00:00:00", &c, time.Time{}, false},
		{"2023-04-27T25:00:00Z", &c, time.Time{}, false},
		{"2023-04-27T14:60:00Z", &c, time.Time{}, false},
		{"2023-04-27T14:46:47+2400", &c, time.Time{}, false},
		{"Foo 27 14:46:47 2023", &c, time.Time{}, false},
		{"Apr 32 14:46:47", &c, time.Time{}, false},
		{"0999-01-01T00:00:00Z", &c, time.Time{}, false},
		{"14:46:47", &c, time.Time{}, false},
		{"", &c, time.Time{}, false},
	} {
		var arr [maxTokens][]byte
		got, ok := tc.c.parseTimeAll(tokenize([]byte(tc.in), arr[:0]))
		if ok != tc.ok || !got.Equal(tc.want) || (ok && got.Location() != time.UTC) {
			t.Errorf("parseTimeAll(%q) = %v, %v; want %v, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestTokenize(t *testing.T) {
	var arr [4][]byte
	got := tokenize([]byte("  a\tbb  ccc\x00dddddddddddddd eeeeeeeee  f"), arr[:0:4])
	want := [][]byte{[]byte("a"), []byte("bb"), []byte("ccc"), []byte("dddddddddddddd")}
	if len(got) != len(want) {
		t.Fatalf("got %q", got)
	}
	for i := range want {
		if !bytes.Equal(got[i], want[i]) {
			t.Errorf("token %d = %q, want %q", i, got[i], want[i])
		}
	}
	// Non-ASCII bytes are not separators.
	if got := tokenize([]byte("ünïcødé\xa0x y"), arr[:0:4]); len(got) != 2 || string(got[0]) != "ünïcødé\xa0x" {
		t.Errorf("got %q", got)
	}
}
