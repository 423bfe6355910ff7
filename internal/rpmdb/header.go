package rpmdb

import (
	"bytes"
	"crypto"
	"encoding/binary"
	"fmt"
	"strings"
)

// Header tags read (rpmtag.h).
const (
	tagHeaderImage      = 61
	tagHeaderSignatures = 62
	tagHeaderImmutable  = 63

	tagName           = 1000
	tagVersion        = 1001
	tagRelease        = 1002
	tagEpoch          = 1003
	tagArch           = 1022
	tagOldFilenames   = 1027
	tagFileSizes      = 1028
	tagFileModes      = 1030
	tagFileDigests    = 1035 // RPMTAG_FILEMD5S in rpm < 4.6
	tagFileLinkTos    = 1036
	tagFileFlags      = 1037
	tagDirIndexes     = 1116
	tagBasenames      = 1117
	tagDirNames       = 1118
	tagLongFileSizes  = 5008
	tagFileDigestAlgo = 5011
)

// Header data types (rpmTagType).
const (
	typeNull        = 0
	typeChar        = 1
	typeInt8        = 2
	typeInt16       = 3
	typeInt32       = 4
	typeInt64       = 5
	typeString      = 6
	typeBin         = 7
	typeStringArray = 8
	typeI18NString  = 9
)

// File flags (rpmfileAttrs).
const (
	FlagConfig    uint32 = 1 << 0 // %config
	FlagDoc       uint32 = 1 << 1 // %doc
	FlagMissingOK uint32 = 1 << 3 // %config(missingok)
	FlagNoReplace uint32 = 1 << 4 // %config(noreplace)
	FlagGhost     uint32 = 1 << 6 // %ghost
	FlagLicense   uint32 = 1 << 7 // %license
	FlagReadme    uint32 = 1 << 8 // %readme
	FlagArtifact  uint32 = 1 << 12
)

// rpm's own sanity limits on a header (hdrchkTags, hdrchkData).
const (
	maxIndexEntries = 0xffff
	maxDataBytes    = 256 << 20
)

// DefaultMaxPackageFiles bounds the files ParseHeader accepts in one
// header. The largest real packages (texlive documentation, kernel
// sources) hold a few hundred thousand.
const DefaultMaxPackageFiles = 1 << 20

// File is one file an installed package owns.
type File struct {
	Path   string      // absolute as rpm records it: "/etc/crontab"
	Digest string      // lower-case hex as rpm records it; "" for directories, symbolic links and ghosts
	Algo   crypto.Hash // the digest's algorithm (RPMTAG_FILEDIGESTALGO; MD5 if absent; 0 if rpm names one Go does not know)
	Mode   uint16      // raw st_mode (type and permission bits)
	Flags  uint32      // RPMTAG_FILEFLAGS (FlagConfig, FlagGhost, …)
	Size   int64       // size in bytes
	LinkTo string      // target of a symbolic link
}

// Config reports whether the file is %config: the administrator may
// change it, so a digest mismatch is expected.
func (f File) Config() bool { return f.Flags&FlagConfig != 0 }

// Ghost reports whether the file is %ghost: owned but not shipped, so its
// content is not recorded.
func (f File) Ghost() bool { return f.Flags&FlagGhost != 0 }

// Package is one installed package and the files it owns.
type Package struct {
	Name, Version, Release, Arch string
	Epoch                        int // 0 when the header has none
	Files                        []File
}

// ParseHeader parses an rpm header as the database stores it: no lead and
// no magic, but big-endian il (index entries) and dl (data bytes), il
// 16-byte index entries, then dl bytes of data. Every count and offset is
// checked against the blob; bad input gives a *HeaderError (errors.Is
// ErrCorrupt), never a panic. At most DefaultMaxPackageFiles files are
// accepted.
func ParseHeader(blob []byte) (*Package, error) {
	return parseHeader(blob, DefaultMaxPackageFiles)
}

type entry struct {
	tag   int
	typ   uint32
	off   int // into data
	count int
	ok    bool
}

// slot maps the tags read to an index into header.ents.
func slot(tag int) int {
	switch tag {
	case tagName:
		return 1
	case tagVersion:
		return 2
	case tagRelease:
		return 3
	case tagEpoch:
		return 4
	case tagArch:
		return 5
	case tagOldFilenames:
		return 6
	case tagFileSizes:
		return 7
	case tagFileModes:
		return 8
	case tagFileDigests:
		return 9
	case tagFileLinkTos:
		return 10
	case tagFileFlags:
		return 11
	case tagDirIndexes:
		return 12
	case tagBasenames:
		return 13
	case tagDirNames:
		return 14
	case tagLongFileSizes:
		return 15
	case tagFileDigestAlgo:
		return 16
	}
	return 0
}

const nslots = 17

type header struct {
	data    []byte
	dataOff int // offset of data in the blob, for error reports
	ents    [nslots]entry
}

func (h *header) get(tag int) entry { return h.ents[slot(tag)] }

func (h *header) errf(e entry, format string, args ...any) error {
	return &HeaderError{Tag: e.tag, Offset: h.dataOff + e.off, Msg: fmt.Sprintf(format, args...)}
}

func parseHeader(blob []byte, maxFiles int) (*Package, error) {
	if len(blob) < 8 {
		return nil, &HeaderError{Msg: fmt.Sprintf("%d bytes: shorter than the 8-byte preamble", len(blob))}
	}
	il := int64(binary.BigEndian.Uint32(blob))
	dl := int64(binary.BigEndian.Uint32(blob[4:]))
	if il == 0 || il > maxIndexEntries {
		return nil, &HeaderError{Msg: fmt.Sprintf("%d index entries (1..%d)", il, maxIndexEntries)}
	}
	if dl > maxDataBytes {
		return nil, &HeaderError{Offset: 4, Msg: fmt.Sprintf("%d data bytes (limit %d)", dl, maxDataBytes)}
	}
	if want := 8 + 16*il + dl; want != int64(len(blob)) {
		return nil, &HeaderError{Msg: fmt.Sprintf("blob is %d bytes, 8 + 16*il(%d) + dl(%d) = %d", len(blob), il, dl, want)}
	}
	h := &header{data: blob[8+16*il:], dataOff: int(8 + 16*il)}
	for i := range int(il) {
		p := blob[8+16*i:]
		tag := int(int32(binary.BigEndian.Uint32(p)))
		typ := binary.BigEndian.Uint32(p[4:])
		off := int64(int32(binary.BigEndian.Uint32(p[8:])))
		cnt := int64(binary.BigEndian.Uint32(p[12:]))
		if tag == tagHeaderImmutable || tag == tagHeaderSignatures || tag == tagHeaderImage {
			// A region tag: its trailer (in the data) records the
			// region's extent with a negative offset. The entries it
			// covers follow in the index like any other, so the
			// region itself carries nothing needed here.
			continue
		}
		s := slot(tag)
		if s == 0 {
			continue
		}
		e := entry{tag: tag, typ: typ, off: int(off), count: int(cnt), ok: true}
		if typ > typeI18NString {
			return nil, &HeaderError{Tag: tag, Offset: 8 + 16*i, Msg: fmt.Sprintf("unknown type %d", typ)}
		}
		if off < 0 || off >= dl {
			return nil, &HeaderError{Tag: tag, Offset: 8 + 16*i, Msg: fmt.Sprintf("data offset %d outside %d data bytes", off, dl)}
		}
		if cnt == 0 || cnt > dl-off {
			return nil, &HeaderError{Tag: tag, Offset: 8 + 16*i, Msg: fmt.Sprintf("count %d does not fit %d bytes left", cnt, dl-off)}
		}
		h.ents[s] = e // a later entry (a "dribble" added at install) replaces an earlier one
	}
	return h.pkg(maxFiles)
}

// str reads a STRING (or the first string of an array) tag; "" if absent.
func (h *header) str(tag int) (string, error) {
	e := h.get(tag)
	if !e.ok {
		return "", nil
	}
	switch e.typ {
	case typeString, typeStringArray, typeI18NString:
	default:
		return "", h.errf(e, "type %d, want a string", e.typ)
	}
	a, b, err := h.cstr(e, e.off)
	if err != nil {
		return "", err
	}
	return string(h.data[a:b]), nil
}

// cstr finds the NUL-terminated string at off: data[a:b], next at b+1.
func (h *header) cstr(e entry, off int) (a, b int, err error) {
	if off >= len(h.data) {
		return 0, 0, h.errf(e, "string at %d past the data", off)
	}
	n := bytes.IndexByte(h.data[off:], 0)
	if n < 0 {
		return 0, 0, h.errf(e, "string at %d has no terminating NUL", off)
	}
	return off, off + n, nil
}

type span struct{ a, b int32 }

// strs reads a STRING_ARRAY tag into spans of data. want > 0 requires
// that many strings.
func (h *header) strs(e entry, want int) ([]span, error) {
	if e.typ != typeStringArray && e.typ != typeI18NString {
		return nil, h.errf(e, "type %d, want a string array", e.typ)
	}
	if want >= 0 && e.count != want {
		return nil, h.errf(e, "%d strings, want %d", e.count, want)
	}
	// Each string takes at least its NUL: count <= bytes left was
	// checked, so this allocation is bounded by the data size.
	out := make([]span, e.count)
	off := e.off
	for i := range out {
		a, b, err := h.cstr(e, off)
		if err != nil {
			return nil, err
		}
		out[i] = span{int32(a), int32(b)}
		off = b + 1
	}
	return out, nil
}

// ints checks an integer array tag of the given type and element size,
// with want elements, and returns its data.
func (h *header) ints(e entry, typ uint32, size, want int) ([]byte, error) {
	if e.typ != typ {
		return nil, h.errf(e, "type %d, want %d", e.typ, typ)
	}
	if want >= 0 && e.count != want {
		return nil, h.errf(e, "%d values, want %d", e.count, want)
	}
	if int64(e.count)*int64(size) > int64(len(h.data)-e.off) {
		return nil, h.errf(e, "%d values of %d bytes overrun the data", e.count, size)
	}
	return h.data[e.off : e.off+e.count*size], nil
}

// Algo maps rpm's digest algorithm numbers (pgpHashAlgo) to crypto.Hash;
// 0 for one Go does not know.
func Algo(rpmAlgo uint32) crypto.Hash {
	switch rpmAlgo {
	case 1:
		return crypto.MD5
	case 2:
		return crypto.SHA1
	case 8:
		return crypto.SHA256
	case 9:
		return crypto.SHA384
	case 10:
		return crypto.SHA512
	case 11:
		return crypto.SHA224
	case 12:
		return crypto.SHA3_256
	case 14:
		return crypto.SHA3_512
	}
	return 0
}

func (h *header) pkg(maxFiles int) (*Package, error) {
	p := &Package{}
	var err error
	if p.Name, err = h.str(tagName); err != nil {
		return nil, err
	}
	if p.Version, err = h.str(tagVersion); err != nil {
		return nil, err
	}
	if p.Release, err = h.str(tagRelease); err != nil {
		return nil, err
	}
	if p.Arch, err = h.str(tagArch); err != nil {
		return nil, err
	}
	if e := h.get(tagEpoch); e.ok {
		b, err := h.ints(e, typeInt32, 4, -1)
		if err != nil {
			return nil, err
		}
		p.Epoch = int(int32(binary.BigEndian.Uint32(b)))
	}
	algo := crypto.MD5
	if e := h.get(tagFileDigestAlgo); e.ok {
		b, err := h.ints(e, typeInt32, 4, -1)
		if err != nil {
			return nil, err
		}
		algo = Algo(binary.BigEndian.Uint32(b))
	}

	// File names: BASENAMES + DIRINDEXES into DIRNAMES (rpm >= 4), or
	// OLDFILENAMES in headers from before compressed file lists.
	var bases, dirs []span
	var dirIdx []byte
	n := 0
	if e := h.get(tagBasenames); e.ok {
		n = e.count
		if n > maxFiles {
			return nil, &HeaderError{Tag: e.tag, Offset: h.dataOff + e.off, Msg: fmt.Sprintf("%d files (limit %d)", n, maxFiles), Err: ErrLimit}
		}
		if bases, err = h.strs(e, n); err != nil {
			return nil, err
		}
		de := h.get(tagDirNames)
		if !de.ok {
			return nil, h.errf(e, "basenames without dirnames")
		}
		if dirs, err = h.strs(de, -1); err != nil {
			return nil, err
		}
		ie := h.get(tagDirIndexes)
		if !ie.ok {
			return nil, h.errf(e, "basenames without dirindexes")
		}
		if dirIdx, err = h.ints(ie, typeInt32, 4, n); err != nil {
			return nil, err
		}
	} else if e := h.get(tagOldFilenames); e.ok {
		n = e.count
		if n > maxFiles {
			return nil, &HeaderError{Tag: e.tag, Offset: h.dataOff + e.off, Msg: fmt.Sprintf("%d files (limit %d)", n, maxFiles), Err: ErrLimit}
		}
		if bases, err = h.strs(e, n); err != nil {
			return nil, err
		}
	}
	if n == 0 {
		return p, nil
	}
	var modes, flags, sizes, lsizes []byte
	var digests, links []span
	if e := h.get(tagFileModes); e.ok {
		if modes, err = h.ints(e, typeInt16, 2, n); err != nil {
			return nil, err
		}
	}
	if e := h.get(tagFileFlags); e.ok {
		if flags, err = h.ints(e, typeInt32, 4, n); err != nil {
			return nil, err
		}
	}
	if e := h.get(tagLongFileSizes); e.ok {
		if lsizes, err = h.ints(e, typeInt64, 8, n); err != nil {
			return nil, err
		}
	} else if e := h.get(tagFileSizes); e.ok {
		if sizes, err = h.ints(e, typeInt32, 4, n); err != nil {
			return nil, err
		}
	}
	if e := h.get(tagFileDigests); e.ok {
		if digests, err = h.strs(e, n); err != nil {
			return nil, err
		}
	}
	if e := h.get(tagFileLinkTos); e.ok {
		if links, err = h.strs(e, n); err != nil {
			return nil, err
		}
	}

	// All of the package's strings go into one allocation: a typical
	// root has ~100,000 files, and three allocations per file would
	// dominate the cost of reading the database.
	// Dirnames are shared: a small header could name a huge directory
	// for a million files. Real headers need less string space than
	// their own data; 16 times that is a generous bound.
	maxStrings := max(16*len(h.data), 1<<20)
	total := 0
	for i := range n {
		total += int(bases[i].b - bases[i].a)
		if dirs != nil {
			d := int(binary.BigEndian.Uint32(dirIdx[4*i:]))
			if d >= len(dirs) {
				return nil, h.errf(h.get(tagDirIndexes), "file %d: dir index %d of %d dirnames", i, d, len(dirs))
			}
			total += int(dirs[d].b - dirs[d].a)
		}
		if digests != nil {
			total += int(digests[i].b - digests[i].a)
		}
		if links != nil {
			total += int(links[i].b - links[i].a)
		}
		if total > maxStrings {
			return nil, h.errf(h.get(tagBasenames), "file names and digests exceed %d bytes", maxStrings)
		}
	}
	// A strings.Builder hands over its buffer as the string without a
	// copy.
	var buf strings.Builder
	buf.Grow(total)
	offs := make([]span, 3*n) // path, digest, link in buf
	for i := range n {
		a := buf.Len()
		if dirs != nil {
			d := dirs[binary.BigEndian.Uint32(dirIdx[4*i:])]
			buf.Write(h.data[d.a:d.b])
		}
		buf.Write(h.data[bases[i].a:bases[i].b])
		offs[3*i] = span{int32(a), int32(buf.Len())}
		if digests != nil {
			a = buf.Len()
			dg := h.data[digests[i].a:digests[i].b]
			if hasUpperHex(dg) {
				dg = bytes.ToLower(dg)
			}
			buf.Write(dg)
			offs[3*i+1] = span{int32(a), int32(buf.Len())}
		}
		if links != nil {
			a = buf.Len()
			buf.Write(h.data[links[i].a:links[i].b])
			offs[3*i+2] = span{int32(a), int32(buf.Len())}
		}
	}
	s := buf.String()
	p.Files = make([]File, n)
	for i := range p.Files {
		f := &p.Files[i]
		f.Path = s[offs[3*i].a:offs[3*i].b]
		f.Digest = s[offs[3*i+1].a:offs[3*i+1].b]
		f.LinkTo = s[offs[3*i+2].a:offs[3*i+2].b]
		f.Algo = algo
		if modes != nil {
			f.Mode = binary.BigEndian.Uint16(modes[2*i:])
		}
		if flags != nil {
			f.Flags = binary.BigEndian.Uint32(flags[4*i:])
		}
		if lsizes != nil {
			f.Size = int64(binary.BigEndian.Uint64(lsizes[8*i:]))
		} else if sizes != nil {
			f.Size = int64(binary.BigEndian.Uint32(sizes[4*i:]))
		}
	}
	return p, nil
}

func hasUpperHex(b []byte) bool {
	for _, c := range b {
		if c-'A' < 6 {
			return true
		}
	}
	return false
}

// EVR is the package's [epoch:]version-release, as rpm -q prints it.
func (p *Package) EVR() string {
	var b strings.Builder
	if p.Epoch != 0 {
		fmt.Fprintf(&b, "%d:", p.Epoch)
	}
	b.WriteString(p.Version)
	b.WriteByte('-')
	b.WriteString(p.Release)
	return b.String()
}
