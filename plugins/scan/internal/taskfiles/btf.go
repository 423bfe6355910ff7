package taskfiles

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// ErrBTF is wrapped by every error about the contents of BTF data.
var ErrBTF = errors.New("taskfiles: cannot parse BTF")

// BTF kinds this file reads or steps over (include/uapi/linux/btf.h).
const (
	kindInt       = 1
	kindPtr       = 2
	kindArray     = 3
	kindStruct    = 4
	kindUnion     = 5
	kindEnum      = 6
	kindFwd       = 7
	kindTypedef   = 8
	kindVolatile  = 9
	kindConst     = 10
	kindRestrict  = 11
	kindFunc      = 12
	kindFuncProto = 13
	kindVar       = 14
	kindDatasec   = 15
	kindFloat     = 16
	kindDeclTag   = 17
	kindTypeTag   = 18
	kindEnum64    = 19
)

// btfInfo is what the iterator program needs from the kernel's BTF: the
// type id of the iterator's attach function and four field offsets.
type btfInfo struct {
	iterFunc uint32 // BTF id of FUNC bpf_iter_task_file
	fInode   int16  // struct file.f_inode
	iMode    int16  // struct inode.i_mode
	iIno     int16  // struct inode.i_ino
	tgid     int16  // struct task_struct.tgid
}

// btfRaw is BTF data split into its sections, with the start of each type
// record (index = type id; id 0 is void and has none).
type btfRaw struct {
	types, strs []byte
	starts      []uint32
	want        []wanted          // types to note the ids of while walking
	named       map[string]uint32 // their ids, by name
}

type wanted struct {
	kind uint32
	name string
}

// parseBTF reads the header and walks the type records of raw BTF data
// (the format of /sys/kernel/btf/vmlinux), noting where each one starts.
// It is a walk, not a decoder: a record is stepped over by its kind and
// member count, and only names and members of the few types asked for are
// ever read. Decoding all of vmlinux (tens of thousands of types) costs
// more than the descriptor pass this serves.
func parseBTF(b []byte, want ...wanted) (*btfRaw, error) {
	if len(b) < 24 {
		return nil, fmt.Errorf("%w: %d bytes, no header", ErrBTF, len(b))
	}
	if binary.NativeEndian.Uint16(b) != 0xeb9f {
		if binary.NativeEndian.Uint16(b) == 0x9feb {
			return nil, fmt.Errorf("%w: not in this machine's byte order", ErrBTF)
		}
		return nil, fmt.Errorf("%w: bad magic %#x", ErrBTF, b[:2])
	}
	bo := binary.NativeEndian
	hdrLen := uint64(bo.Uint32(b[4:]))
	typeOff, typeLen := uint64(bo.Uint32(b[8:])), uint64(bo.Uint32(b[12:]))
	strOff, strLen := uint64(bo.Uint32(b[16:])), uint64(bo.Uint32(b[20:]))
	if hdrLen < 24 || hdrLen+typeOff+typeLen > uint64(len(b)) || hdrLen+strOff+strLen > uint64(len(b)) {
		return nil, fmt.Errorf("%w: sections out of bounds", ErrBTF)
	}
	r := &btfRaw{types: b[hdrLen+typeOff : hdrLen+typeOff+typeLen], strs: b[hdrLen+strOff : hdrLen+strOff+strLen], want: want}
	r.starts = make([]uint32, 1, 1+len(r.types)/16) // ids from 1; id 0 is void
	r.named = map[string]uint32{}
	for off := 0; off < len(r.types); {
		if len(r.types)-off < 12 {
			return nil, fmt.Errorf("%w: truncated type %d", ErrBTF, len(r.starts))
		}
		info := binary.NativeEndian.Uint32(r.types[off+4:])
		vlen := int(info & 0xffff)
		n := 12
		switch kind := info >> 24 & 0x1f; kind {
		case kindInt, kindVar, kindDeclTag:
			n += 4
		case kindArray:
			n += 12
		case kindStruct, kindUnion, kindDatasec, kindEnum64:
			n += 12 * vlen
		case kindEnum, kindFuncProto:
			n += 8 * vlen
		case kindPtr, kindFwd, kindTypedef, kindVolatile, kindConst, kindRestrict, kindFunc, kindFloat, kindTypeTag:
		default:
			return nil, fmt.Errorf("%w: type %d has unknown kind %d", ErrBTF, len(r.starts), kind)
		}
		if n > len(r.types)-off {
			return nil, fmt.Errorf("%w: truncated type %d", ErrBTF, len(r.starts))
		}
		if k := info >> 24 & 0x1f; (k == kindStruct || k == kindFunc) && len(r.want) > 0 {
			name := binary.NativeEndian.Uint32(r.types[off:])
			for _, w := range r.want {
				if w.kind == k && r.strIs(name, w.name) {
					if _, dup := r.named[w.name]; dup {
						return nil, fmt.Errorf("%w: two types named %s", ErrBTF, w.name)
					}
					r.named[w.name] = uint32(len(r.starts))
				}
			}
		}
		r.starts = append(r.starts, uint32(off))
		off += n
	}
	return r, nil
}

func (r *btfRaw) kind(id uint32) uint32 {
	return binary.NativeEndian.Uint32(r.types[r.starts[id]+4:]) >> 24 & 0x1f
}

// str is the string at off.
func (r *btfRaw) str(off uint32) string {
	if uint64(off) >= uint64(len(r.strs)) {
		return ""
	}
	s := r.strs[off:]
	for i, c := range s {
		if c == 0 {
			return string(s[:i])
		}
	}
	return ""
}

// strIs reports whether the string at off is name.
func (r *btfRaw) strIs(off uint32, name string) bool {
	o := uint64(off)
	if o+uint64(len(name)) >= uint64(len(r.strs)) {
		return false
	}
	return string(r.strs[o:o+uint64(len(name))]) == name && r.strs[o+uint64(len(name))] == 0
}

// id is the id of a wanted type found by the walk.
func (r *btfRaw) id(name string) (uint32, error) {
	id, ok := r.named[name]
	if !ok {
		return 0, fmt.Errorf("%w: no type %s", ErrBTF, name)
	}
	return id, nil
}

// member returns the byte offset of field name in struct or union id,
// looking into anonymous structs and unions it holds.
func (r *btfRaw) member(id uint32, name string, depth int) (uint32, bool) {
	if depth > 8 || id == 0 || id >= uint32(len(r.starts)) {
		return 0, false
	}
	k := r.kind(id)
	if k != kindStruct && k != kindUnion {
		return 0, false
	}
	start := r.starts[id]
	info := binary.NativeEndian.Uint32(r.types[start+4:])
	kflag := info>>31 == 1
	for i := range info & 0xffff {
		m := r.types[start+12+12*i:]
		mname := binary.NativeEndian.Uint32(m)
		mtype := binary.NativeEndian.Uint32(m[4:])
		bits := binary.NativeEndian.Uint32(m[8:])
		if kflag {
			if bits>>24 != 0 {
				continue // a bit field
			}
			bits &= 0xffffff
		}
		if bits%8 != 0 {
			continue
		}
		if mname == 0 {
			if off, ok := r.member(mtype, name, depth+1); ok {
				return bits/8 + off, true
			}
			continue
		}
		if r.str(mname) == name {
			return bits / 8, true
		}
	}
	return 0, false
}

// lookup finds what the iterator program needs in raw BTF data.
func lookup(b []byte) (btfInfo, error) {
	var bi btfInfo
	r, err := parseBTF(b, wanted{kindFunc, "bpf_iter_task_file"}, wanted{kindStruct, "file"},
		wanted{kindStruct, "inode"}, wanted{kindStruct, "task_struct"})
	if err != nil {
		return bi, err
	}
	if bi.iterFunc, err = r.id("bpf_iter_task_file"); err != nil {
		return bi, err
	}
	for _, f := range []struct {
		typ, field string
		dst        *int16
	}{
		{"file", "f_inode", &bi.fInode}, {"inode", "i_mode", &bi.iMode},
		{"inode", "i_ino", &bi.iIno}, {"task_struct", "tgid", &bi.tgid},
	} {
		id, err := r.id(f.typ)
		if err != nil {
			return bi, err
		}
		off, ok := r.member(id, f.field, 0)
		if !ok || off > 1<<15-8 {
			return bi, fmt.Errorf("%w: no field %s.%s", ErrBTF, f.typ, f.field)
		}
		*f.dst = int16(off)
	}
	return bi, nil
}
