// Package rpmdbtest builds rpm headers and rpm databases for tests: the
// blobs ParseHeader reads, and rpmdb.sqlite files with rpm's own schema,
// so that a test can lay out an Amazon Linux, RHEL or Fedora root in
// t.TempDir() without rpm installed.
package rpmdbtest

import (
	"crypto"
	"encoding/binary"
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/abusekit/abusekit/internal/rpmdb"
)

// Header data types (rpmTagType).
const (
	TypeChar        uint32 = 1
	TypeInt8        uint32 = 2
	TypeInt16       uint32 = 3
	TypeInt32       uint32 = 4
	TypeInt64       uint32 = 5
	TypeString      uint32 = 6
	TypeBin         uint32 = 7
	TypeStringArray uint32 = 8
	TypeI18NString  uint32 = 9
)

// Entry is one tag of a header. Value is a string (TypeString), []string
// (TypeStringArray, TypeI18NString), []byte (TypeBin, TypeChar,
// TypeInt8), []uint16, []uint32 or []uint64 for the integer types.
type Entry struct {
	Tag   int32
	Type  uint32
	Value any
}

// Encode lays out entries as rpm exports a header into its database:
// an immutable region (tag 63) first, whose trailer closes the data,
// then the entries sorted by tag, each value aligned to its type's size.
// It panics on a Value that does not match its Type (a test's mistake).
func Encode(entries []Entry) []byte {
	es := append([]Entry(nil), entries...)
	sort.SliceStable(es, func(i, j int) bool { return es[i].Tag < es[j].Tag })
	type idx struct {
		tag        int32
		typ        uint32
		off, count uint32
	}
	var index []idx
	var data []byte
	for _, e := range es {
		var count int
		switch e.Type {
		case TypeInt16:
			data = pad(data, 2)
		case TypeInt32:
			data = pad(data, 4)
		case TypeInt64:
			data = pad(data, 8)
		}
		off := len(data)
		switch v := e.Value.(type) {
		case string:
			if e.Type != TypeString {
				panic(fmt.Sprintf("rpmdbtest: tag %d: string value for type %d", e.Tag, e.Type))
			}
			data = append(append(data, v...), 0)
			count = 1
		case []string:
			if e.Type != TypeStringArray && e.Type != TypeI18NString {
				panic(fmt.Sprintf("rpmdbtest: tag %d: []string value for type %d", e.Tag, e.Type))
			}
			for _, s := range v {
				data = append(append(data, s...), 0)
			}
			count = len(v)
		case []byte:
			data = append(data, v...)
			count = len(v)
		case []uint16:
			for _, x := range v {
				data = binary.BigEndian.AppendUint16(data, x)
			}
			count = len(v)
		case []uint32:
			for _, x := range v {
				data = binary.BigEndian.AppendUint32(data, x)
			}
			count = len(v)
		case []uint64:
			for _, x := range v {
				data = binary.BigEndian.AppendUint64(data, x)
			}
			count = len(v)
		default:
			panic(fmt.Sprintf("rpmdbtest: tag %d: value of type %T", e.Tag, e.Value))
		}
		index = append(index, idx{e.Tag, e.Type, uint32(off), uint32(count)})
	}
	// The region trailer: tag 63, BIN, count 16, and an offset of minus
	// the size of the region's index (its entries plus itself).
	ril := len(index) + 1
	trailerOff := len(data)
	data = binary.BigEndian.AppendUint32(data, 63)
	data = binary.BigEndian.AppendUint32(data, TypeBin)
	data = binary.BigEndian.AppendUint32(data, uint32(int32(-16*ril)))
	data = binary.BigEndian.AppendUint32(data, 16)
	index = append([]idx{{63, TypeBin, uint32(trailerOff), 16}}, index...)

	out := binary.BigEndian.AppendUint32(nil, uint32(len(index)))
	out = binary.BigEndian.AppendUint32(out, uint32(len(data)))
	for _, x := range index {
		out = binary.BigEndian.AppendUint32(out, uint32(x.tag))
		out = binary.BigEndian.AppendUint32(out, x.typ)
		out = binary.BigEndian.AppendUint32(out, x.off)
		out = binary.BigEndian.AppendUint32(out, x.count)
	}
	return append(out, data...)
}

func pad(b []byte, n int) []byte {
	for len(b)%n != 0 {
		b = append(b, 0)
	}
	return b
}

var algos = map[crypto.Hash]uint32{
	crypto.MD5: 1, crypto.SHA1: 2, crypto.SHA256: 8, crypto.SHA384: 9,
	crypto.SHA512: 10, crypto.SHA224: 11, crypto.SHA3_256: 12, crypto.SHA3_512: 14,
}

// Entries gives the tags rpm records for pkg: name, version, release,
// epoch (when not 0), arch, and the file list compressed into DIRNAMES,
// BASENAMES and DIRINDEXES with modes, flags, sizes (LONGFILESIZES when
// one is 4 GiB or more), digests, link targets and the digest algorithm
// (taken from the first file; omitted for MD5, as rpm does).
func Entries(pkg rpmdb.Package) []Entry {
	es := []Entry{
		{1000, TypeString, pkg.Name},
		{1001, TypeString, pkg.Version},
		{1002, TypeString, pkg.Release},
		{1022, TypeString, pkg.Arch},
	}
	if pkg.Epoch != 0 {
		es = append(es, Entry{1003, TypeInt32, []uint32{uint32(int32(pkg.Epoch))}})
	}
	if len(pkg.Files) == 0 {
		return es
	}
	var (
		dirs     []string
		dirIdx   = map[string]uint32{}
		bases    []string
		idxs     []uint32
		modes    []uint16
		flags    []uint32
		sizes    []uint32
		lsizes   []uint64
		digests  []string
		links    []string
		needLong bool
	)
	for _, f := range pkg.Files {
		i := strings.LastIndexByte(f.Path, '/')
		dir, base := f.Path[:i+1], f.Path[i+1:]
		d, ok := dirIdx[dir]
		if !ok {
			d = uint32(len(dirs))
			dirIdx[dir] = d
			dirs = append(dirs, dir)
		}
		bases = append(bases, base)
		idxs = append(idxs, d)
		modes = append(modes, f.Mode)
		flags = append(flags, f.Flags)
		lsizes = append(lsizes, uint64(f.Size))
		if f.Size < 0 || f.Size > math.MaxUint32-1 {
			needLong = true
		}
		sizes = append(sizes, uint32(f.Size))
		digests = append(digests, f.Digest)
		links = append(links, f.LinkTo)
	}
	es = append(es,
		Entry{1030, TypeInt16, modes},
		Entry{1035, TypeStringArray, digests},
		Entry{1036, TypeStringArray, links},
		Entry{1037, TypeInt32, flags},
		Entry{1116, TypeInt32, idxs},
		Entry{1117, TypeStringArray, bases},
		Entry{1118, TypeStringArray, dirs},
	)
	if needLong {
		es = append(es, Entry{5008, TypeInt64, lsizes})
	} else {
		es = append(es, Entry{1028, TypeInt32, sizes})
	}
	if a := pkg.Files[0].Algo; a != 0 && a != crypto.MD5 {
		n, ok := algos[a]
		if !ok {
			panic(fmt.Sprintf("rpmdbtest: no rpm number for digest algorithm %v", a))
		}
		es = append(es, Entry{5011, TypeInt32, []uint32{n}})
	}
	return es
}

// Header encodes pkg as the blob rpm stores in its database.
func Header(pkg rpmdb.Package) []byte { return Encode(Entries(pkg)) }
