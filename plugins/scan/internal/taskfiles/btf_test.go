package taskfiles

import (
	"encoding/binary"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// btfBuilder writes raw BTF: types and strings, in this machine's byte order.
type btfBuilder struct {
	types []byte
	strs  []byte
	n     uint32 // types so far
}

func newBTF() *btfBuilder { return &btfBuilder{strs: []byte{0}} }

func (b *btfBuilder) str(s string) uint32 {
	if s == "" {
		return 0
	}
	off := uint32(len(b.strs))
	b.strs = append(append(b.strs, s...), 0)
	return off
}

func (b *btfBuilder) u32(v ...uint32) {
	for _, x := range v {
		b.types = binary.NativeEndian.AppendUint32(b.types, x)
	}
}

// typ adds a type record head and returns its id.
func (b *btfBuilder) typ(name string, kind, vlen uint32, kflag bool, sizeOrType uint32) uint32 {
	info := kind<<24 | vlen
	if kflag {
		info |= 1 << 31
	}
	b.u32(b.str(name), info, sizeOrType)
	b.n++
	return b.n
}

type member struct {
	name string
	typ  uint32
	bits uint32 // offset in bits (with kflag, bitfield size << 24 | offset)
}

func (b *btfBuilder) composite(kind uint32, name string, size uint32, kflag bool, ms ...member) uint32 {
	id := b.typ(name, kind, uint32(len(ms)), kflag, size)
	for _, m := range ms {
		b.u32(b.str(m.name), m.typ, m.bits)
	}
	return id
}

func (b *btfBuilder) bytes() []byte {
	h := make([]byte, 24)
	binary.NativeEndian.PutUint16(h, 0xeb9f)
	h[2] = 1
	binary.NativeEndian.PutUint32(h[4:], 24)
	binary.NativeEndian.PutUint32(h[8:], 0)
	binary.NativeEndian.PutUint32(h[12:], uint32(len(b.types)))
	binary.NativeEndian.PutUint32(h[16:], uint32(len(b.types)))
	binary.NativeEndian.PutUint32(h[20:], uint32(len(b.strs)))
	return append(append(h, b.types...), b.strs...)
}

// kernelLike is BTF shaped like a kernel's where it matters: f_inode
// inside an anonymous union inside an anonymous struct, a bit field
// before i_ino, kinds with trailing data of each size in between, and a
// forward declaration named like a wanted struct.
func kernelLike() []byte {
	b := newBTF()
	u64 := b.typ("unsigned long", kindInt, 0, false, 8)
	b.u32(64)
	u16 := b.typ("unsigned short", kindInt, 0, false, 2)
	b.u32(16)
	i32 := b.typ("int", kindInt, 0, false, 4)
	b.u32(32)
	b.typ("file", kindFwd, 0, false, 0)
	inodeFwd := b.typ("inode", kindFwd, 0, false, 0)
	ptrInode := b.typ("", kindPtr, 0, false, inodeFwd)
	arr := b.typ("", kindArray, 0, false, 0)
	b.u32(u64, i32, 4)
	b.typ("e", kindEnum, 2, false, 4)
	b.u32(b.str("A"), 0, b.str("B"), 1)
	proto := b.typ("", kindFuncProto, 1, false, i32)
	b.u32(0, u64)
	b.typ("bpf_iter_task_file_proto_decoy", kindFunc, 0, false, proto)
	iter := b.typ("bpf_iter_task_file", kindFunc, 0, false, proto)
	b.typ("v", kindVar, 0, false, i32)
	b.u32(1)
	b.typ(".data", kindDatasec, 1, false, 8)
	b.u32(0, 0, 8)
	b.typ("tag", kindDeclTag, 0, false, i32)
	b.u32(0xffffffff)
	b.typ("e64", kindEnum64, 1, false, 8)
	b.u32(b.str("C"), 1, 0)
	b.typ("float", kindFloat, 0, false, 4)
	b.typ("", kindTypeTag, 0, false, u64)
	inner := b.composite(kindUnion, "", 8, false, member{"f_inode", ptrInode, 0}, member{"f_other", u64, 0})
	anon := b.composite(kindStruct, "", 16, false, member{"f_mode", i32, 0}, member{"", inner, 64})
	b.composite(kindStruct, "file", 64, false, member{"f_lock", u64, 0}, member{"", anon, 128}, member{"f_arr", arr, 256})
	b.composite(kindStruct, "inode", 128, true, member{"i_mode", u16, 0}, member{"i_flags", u16, 4<<24 | 16},
		member{"i_ino", u64, 64})
	b.composite(kindStruct, "task_struct", 4096, false, member{"pid", i32, 1264 * 8}, member{"tgid", i32, 1268 * 8})
	_ = iter
	return b.bytes()
}

func TestLookup(t *testing.T) {
	got, err := lookup(kernelLike())
	if err != nil {
		t.Fatal(err)
	}
	want := btfInfo{iterFunc: 11, fInode: 24, iMode: 0, iIno: 8, tgid: 1268}
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(btfInfo{})); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestLookupErrors(t *testing.T) {
	good := kernelLike()
	for _, tc := range []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"header only", good[:24]},
		{"truncated", good[:len(good)-200]},
		{"bad magic", append([]byte{0, 0}, good[2:]...)},
		{"no file struct", func() []byte {
			b := newBTF()
			b.typ("int", kindInt, 0, false, 4)
			b.u32(32)
			return b.bytes()
		}()},
		{"unknown kind", func() []byte {
			b := newBTF()
			b.typ("x", 31, 0, false, 0)
			return b.bytes()
		}()},
		{"two structs named file", func() []byte {
			b := newBTF()
			b.composite(kindStruct, "file", 8, false)
			b.composite(kindStruct, "file", 8, false)
			return b.bytes()
		}()},
		{"self-referring anonymous member", func() []byte {
			b := newBTF()
			proto := b.typ("", kindFuncProto, 0, false, 0)
			b.typ("bpf_iter_task_file", kindFunc, 0, false, proto)
			b.composite(kindStruct, "file", 8, false, member{"", 3, 0}) // itself
			return b.bytes()
		}()},
	} {
		if _, err := lookup(tc.b); !errors.Is(err, ErrBTF) {
			t.Errorf("%s: err = %v, want ErrBTF", tc.name, err)
		}
	}
}

func FuzzLookup(f *testing.F) {
	f.Add(kernelLike())
	f.Add(newBTF().bytes())
	f.Fuzz(func(t *testing.T, b []byte) {
		bi, err := lookup(b)
		if err == nil && (bi.iterFunc == 0 || bi.fInode < 0 || bi.iIno < 0 || bi.iMode < 0 || bi.tgid < 0) {
			t.Errorf("lookup = %+v without error", bi)
		}
	})
}
