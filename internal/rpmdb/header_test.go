package rpmdb_test

import (
	"crypto"
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/abusekit/abusekit/internal/rpmdb"
	"github.com/abusekit/abusekit/internal/rpmdb/rpmdbtest"
)

var equateEmpty = cmpopts.EquateEmpty()

const sha = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"

// samplePackages covers what ParseHeader must carry through: epoch,
// every file kind, config and ghost flags, digests of several
// algorithms, sizes past 4 GiB.
func samplePackages() []rpmdb.Package {
	return []rpmdb.Package{
		{Name: "cronie", Version: "1.5.7", Release: "1.amzn2023", Arch: "x86_64", Files: []rpmdb.File{
			{Path: "/etc/crontab", Digest: sha, Algo: crypto.SHA256, Mode: 0o100644, Flags: rpmdb.FlagConfig | rpmdb.FlagNoReplace, Size: 451},
			{Path: "/etc/cron.d", Algo: crypto.SHA256, Mode: 0o40755},
			{Path: "/usr/sbin/crond", Digest: strings.Repeat("ab", 32), Algo: crypto.SHA256, Mode: 0o100755, Size: 74000},
			{Path: "/usr/bin/crontab-link", Algo: crypto.SHA256, Mode: 0o120777, Size: 7, LinkTo: "crontab"},
			{Path: "/var/spool/cron", Algo: crypto.SHA256, Mode: 0o40700},
			{Path: "/var/log/cron", Algo: crypto.SHA256, Mode: 0o100600, Flags: rpmdb.FlagGhost},
		}},
		{Name: "bash", Epoch: 1, Version: "5.2", Release: "2", Arch: "aarch64", Files: []rpmdb.File{
			{Path: "/usr/bin/bash", Digest: "0123456789abcdef0123456789abcdef01234567", Algo: crypto.SHA1, Mode: 0o100755, Size: 1 << 20},
		}},
		{Name: "huge", Version: "1", Release: "1", Arch: "noarch", Files: []rpmdb.File{
			{Path: "/opt/huge.img", Digest: strings.Repeat("c", 32), Algo: crypto.MD5, Mode: 0o100644, Size: 5 << 30},
		}},
		{Name: "gpg-pubkey", Version: "d832c631", Release: "5e0e4d5b"},
	}
}

func TestParseHeaderRoundTrip(t *testing.T) {
	for _, want := range samplePackages() {
		t.Run(want.Name, func(t *testing.T) {
			got, err := rpmdb.ParseHeader(rpmdbtest.Header(want))
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(&want, got, equateEmpty); d != "" {
				t.Errorf("ParseHeader (-want +got):\n%s", d)
			}
		})
	}
}

func TestParseHeaderVariants(t *testing.T) {
	base := []rpmdbtest.Entry{
		{Tag: 1000, Type: rpmdbtest.TypeString, Value: "old"},
		{Tag: 1001, Type: rpmdbtest.TypeString, Value: "1"},
		{Tag: 1002, Type: rpmdbtest.TypeString, Value: "1"},
		{Tag: 1022, Type: rpmdbtest.TypeString, Value: "i386"},
	}
	tests := []struct {
		name  string
		extra []rpmdbtest.Entry
		want  rpmdb.Package
	}{{
		// rpm < 4 headers list whole paths in OLDFILENAMES; MD5 digests
		// in upper case (rpm never wrote them, but a digest compares
		// as lower-case hex).
		name: "oldfilenames",
		extra: []rpmdbtest.Entry{
			{Tag: 1027, Type: rpmdbtest.TypeStringArray, Value: []string{"/etc/a", "/etc/b"}},
			{Tag: 1035, Type: rpmdbtest.TypeStringArray, Value: []string{"ABCDEF", ""}},
			{Tag: 1028, Type: rpmdbtest.TypeInt32, Value: []uint32{3, 4}},
		},
		want: rpmdb.Package{Name: "old", Version: "1", Release: "1", Arch: "i386", Files: []rpmdb.File{
			{Path: "/etc/a", Digest: "abcdef", Algo: crypto.MD5, Size: 3},
			{Path: "/etc/b", Algo: crypto.MD5, Size: 4},
		}},
	}, {
		// A tag added at install (after the immutable region) replaces
		// the region's copy, as rpm's headerImport does.
		name: "dribble-replaces",
		extra: []rpmdbtest.Entry{
			{Tag: 1000, Type: rpmdbtest.TypeString, Value: "new"},
		},
		want: rpmdb.Package{Name: "new", Version: "1", Release: "1", Arch: "i386"},
	}, {
		name: "unknown-algo-and-i18n",
		extra: []rpmdbtest.Entry{
			{Tag: 1004, Type: rpmdbtest.TypeI18NString, Value: []string{"summary"}},
			{Tag: 5011, Type: rpmdbtest.TypeInt32, Value: []uint32{99}},
			{Tag: 1116, Type: rpmdbtest.TypeInt32, Value: []uint32{0}},
			{Tag: 1117, Type: rpmdbtest.TypeStringArray, Value: []string{"x"}},
			{Tag: 1118, Type: rpmdbtest.TypeStringArray, Value: []string{"/y/"}},
		},
		want: rpmdb.Package{Name: "old", Version: "1", Release: "1", Arch: "i386", Files: []rpmdb.File{{Path: "/y/x"}}},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			blob := rpmdbtest.Encode(base)
			if tt.name == "dribble-replaces" {
				blob = appendDribble(blob, tt.extra)
			} else {
				blob = rpmdbtest.Encode(append(append([]rpmdbtest.Entry(nil), base...), tt.extra...))
			}
			got, err := rpmdb.ParseHeader(blob)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(&tt.want, got, equateEmpty); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
}

// appendDribble adds entries after a header's region, as rpm does for
// tags it sets at install time.
func appendDribble(blob []byte, extra []rpmdbtest.Entry) []byte {
	il := binary.BigEndian.Uint32(blob)
	dl := binary.BigEndian.Uint32(blob[4:])
	index := blob[8 : 8+16*il]
	data := append([]byte(nil), blob[8+16*il:]...)
	for _, e := range extra {
		off := len(data)
		data = append(append(data, e.Value.(string)...), 0)
		var ent [16]byte
		binary.BigEndian.PutUint32(ent[0:], uint32(e.Tag))
		binary.BigEndian.PutUint32(ent[4:], e.Type)
		binary.BigEndian.PutUint32(ent[8:], uint32(off))
		binary.BigEndian.PutUint32(ent[12:], 1)
		index = append(append([]byte(nil), index...), ent[:]...)
		il++
	}
	_ = dl
	out := binary.BigEndian.AppendUint32(nil, il)
	out = binary.BigEndian.AppendUint32(out, uint32(len(data)))
	return append(append(out, index...), data...)
}

func TestParseHeaderCorrupt(t *testing.T) {
	good := rpmdbtest.Header(samplePackages()[0])
	il := int(binary.BigEndian.Uint32(good))
	// entryAt finds the index entry of tag in good.
	entryAt := func(tag uint32) int {
		for i := range il {
			if binary.BigEndian.Uint32(good[8+16*i:]) == tag {
				return 8 + 16*i
			}
		}
		t.Fatalf("no tag %d", tag)
		return 0
	}
	mut := func(f func(b []byte) []byte) []byte { return f(append([]byte(nil), good...)) }
	put := func(off int, v uint32) []byte {
		return mut(func(b []byte) []byte { binary.BigEndian.PutUint32(b[off:], v); return b })
	}
	entries := func(es ...rpmdbtest.Entry) []byte {
		return rpmdbtest.Encode(append([]rpmdbtest.Entry{{Tag: 1000, Type: rpmdbtest.TypeString, Value: "x"}}, es...))
	}
	tests := map[string][]byte{
		"empty":           nil,
		"short":           good[:7],
		"truncated":       good[:len(good)-1],
		"trailing":        append(append([]byte(nil), good...), 0),
		"no-entries":      put(0, 0),
		"too-many-index":  put(0, 0x10000),
		"dl-huge":         put(4, 1<<30),
		"offset-past":     put(entryAt(1000)+8, 1<<20),
		"offset-negative": put(entryAt(1000)+8, 0xfffffff0),
		"count-zero":      put(entryAt(1117)+12, 0),
		"count-past":      put(entryAt(1117)+12, 1<<30),
		"bad-type":        put(entryAt(1000)+4, 42),
		"name-not-string": put(entryAt(1000)+4, rpmdbtest.TypeInt32),
		"modes-count":     put(entryAt(1030)+12, 2),
		"string-no-nul":   raw([][4]uint32{{1000, rpmdbtest.TypeString, 0, 1}}, "abc"),
		"array-short": raw([][4]uint32{
			{1000, rpmdbtest.TypeString, 0, 1},
			{1027, rpmdbtest.TypeStringArray, 2, 3},
		}, "x\x00/a\x00/b\x00"),
		"ints-overrun": raw([][4]uint32{
			{1000, rpmdbtest.TypeString, 0, 1},
			{1027, rpmdbtest.TypeStringArray, 2, 1},
			{1028, rpmdbtest.TypeInt32, 5, 1},
		}, "x\x00/\x00\x00\x00\x00"),
		"dirindex-out-of-range": entries(
			rpmdbtest.Entry{Tag: 1116, Type: rpmdbtest.TypeInt32, Value: []uint32{1}},
			rpmdbtest.Entry{Tag: 1117, Type: rpmdbtest.TypeStringArray, Value: []string{"a"}},
			rpmdbtest.Entry{Tag: 1118, Type: rpmdbtest.TypeStringArray, Value: []string{"/"}},
		),
		"basenames-without-dirnames": entries(
			rpmdbtest.Entry{Tag: 1116, Type: rpmdbtest.TypeInt32, Value: []uint32{0}},
			rpmdbtest.Entry{Tag: 1117, Type: rpmdbtest.TypeStringArray, Value: []string{"a"}},
		),
		"basenames-without-dirindexes": entries(
			rpmdbtest.Entry{Tag: 1117, Type: rpmdbtest.TypeStringArray, Value: []string{"a"}},
			rpmdbtest.Entry{Tag: 1118, Type: rpmdbtest.TypeStringArray, Value: []string{"/"}},
		),
		"digests-count": entries(
			rpmdbtest.Entry{Tag: 1035, Type: rpmdbtest.TypeStringArray, Value: []string{"", ""}},
			rpmdbtest.Entry{Tag: 1116, Type: rpmdbtest.TypeInt32, Value: []uint32{0}},
			rpmdbtest.Entry{Tag: 1117, Type: rpmdbtest.TypeStringArray, Value: []string{"a"}},
			rpmdbtest.Entry{Tag: 1118, Type: rpmdbtest.TypeStringArray, Value: []string{"/"}},
		),
		"epoch-not-int": entries(rpmdbtest.Entry{Tag: 1003, Type: rpmdbtest.TypeString, Value: "1"}),
		"long-sizes-short": entries(
			rpmdbtest.Entry{Tag: 1027, Type: rpmdbtest.TypeStringArray, Value: []string{"/a", "/b"}},
			rpmdbtest.Entry{Tag: 5008, Type: rpmdbtest.TypeInt64, Value: []uint64{1}},
		),
		// One huge directory name shared by many files would need far
		// more memory than the header's size: refused.
		"dirname-bomb": func() []byte {
			n := 20000
			idx := make([]uint32, n)
			bases := make([]string, n)
			for i := range bases {
				bases[i] = "f"
			}
			return entries(
				rpmdbtest.Entry{Tag: 1116, Type: rpmdbtest.TypeInt32, Value: idx},
				rpmdbtest.Entry{Tag: 1117, Type: rpmdbtest.TypeStringArray, Value: bases},
				rpmdbtest.Entry{Tag: 1118, Type: rpmdbtest.TypeStringArray, Value: []string{"/" + strings.Repeat("d", 200000) + "/"}},
			)
		}(),
	}
	for name, blob := range tests {
		t.Run(name, func(t *testing.T) {
			p, err := rpmdb.ParseHeader(blob)
			if err == nil {
				t.Fatalf("ParseHeader accepted it: %+v", p)
			}
			var he *rpmdb.HeaderError
			if !errors.Is(err, rpmdb.ErrCorrupt) || !errors.As(err, &he) {
				t.Fatalf("error %v (%T) is not a *HeaderError wrapping ErrCorrupt", err, err)
			}
			if he.Offset < 0 || he.Offset > len(blob) {
				t.Errorf("offset %d outside the %d-byte blob", he.Offset, len(blob))
			}
		})
	}
}

// raw lays out index entries {tag, type, offset, count} and data as
// given, with no region and no checks.
func raw(index [][4]uint32, data string) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(len(index)))
	b = binary.BigEndian.AppendUint32(b, uint32(len(data)))
	for _, e := range index {
		for _, v := range e {
			b = binary.BigEndian.AppendUint32(b, v)
		}
	}
	return append(b, data...)
}

func TestFileFlags(t *testing.T) {
	f := rpmdb.File{Flags: rpmdb.FlagConfig | rpmdb.FlagNoReplace}
	if !f.Config() || f.Ghost() {
		t.Errorf("config(noreplace): Config %v Ghost %v", f.Config(), f.Ghost())
	}
	f = rpmdb.File{Flags: rpmdb.FlagGhost}
	if f.Config() || !f.Ghost() {
		t.Errorf("ghost: Config %v Ghost %v", f.Config(), f.Ghost())
	}
	p := rpmdb.Package{Epoch: 2, Version: "1.2", Release: "3"}
	if got := p.EVR(); got != "2:1.2-3" {
		t.Errorf("EVR = %q", got)
	}
	p.Epoch = 0
	if got := p.EVR(); got != "1.2-3" {
		t.Errorf("EVR = %q", got)
	}
}

func TestVerify(t *testing.T) {
	content := "hello\n"
	tests := []struct {
		algo   crypto.Hash
		digest string
	}{
		{crypto.MD5, "b1946ac92492d2347c6235b4d2611184"},
		{crypto.SHA1, "f572d396fae9206628714fb2ce00f72e94f2258f"},
		{crypto.SHA224, "2d6d67d91d0badcdd06cbbba1fe11538a68a37ec9c2e26457ceff12b"},
		{crypto.SHA256, "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"},
		{crypto.SHA384, "1d0f284efe3edea4b9ca3bd514fa134b17eae361ccc7a1eefeff801b9bd6604e01f21f6bf249ef030599f0c218f2ba8c"},
		{crypto.SHA512, "e7c22b994c59d9cf2b48e549b1e24666636045930d3da7c1acb299d1c3b7f931f94aae41edda2c2b207a36e10f8bcb8d45223e54878f5b316e7ce3b6bc019629"},
	}
	for _, tt := range tests {
		f := rpmdb.File{Path: "/x", Digest: tt.digest, Algo: tt.algo}
		if ok, err := f.Verify(strings.NewReader(content)); !ok || err != nil {
			t.Errorf("%v: Verify = %v, %v", tt.algo, ok, err)
		}
		if ok, err := f.Verify(strings.NewReader(content + "x")); ok || err != nil {
			t.Errorf("%v: Verify of changed content = %v, %v", tt.algo, ok, err)
		}
	}
	for _, f := range []rpmdb.File{{Path: "/dir", Algo: crypto.SHA256}, {Path: "/odd", Digest: "00", Algo: 0}} {
		if _, err := f.Verify(strings.NewReader(content)); !errors.Is(err, rpmdb.ErrUnsupported) {
			t.Errorf("%s: Verify = %v, want ErrUnsupported", f.Path, err)
		}
	}
}
