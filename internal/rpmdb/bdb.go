package rpmdb

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"

	"github.com/abusekit/abusekit/internal/rootfs"
)

// Berkeley DB on-disk constants (db_page.h, hash.h, db.h).
const (
	hashMagic  = 0x061561
	btreeMagic = 0x053162

	pInvalid       = 0  // a page allocated but never written: an empty bucket
	pHashUnsorted  = 2  // hash page of DB < 4.6
	pOverflow      = 7  // overflow (big item) page
	pHashMeta      = 8  // the hash metadata page
	pHash          = 13 // hash page, items sorted (DB >= 4.6)
	hKeyData       = 1  // item stored on the page
	hDuplicate     = 2  // on-page duplicates
	hOffPage       = 3  // item in an overflow chain
	hOffDup        = 4  // duplicates in an off-page tree
	hBlob          = 5  // item in an external file (DB 6)
	pageHeaderSize = 26 // SIZEOF_PAGE: lsn, pgno, prev, next, entries, hf_offset, level, type
	metaChecksum   = 0x01
	hOffPageSize   = 12 // HOFFPAGE: type, unused[3], pgno, tlen
	ncached        = 32 // spares[] in the hash metadata
)

// bdb reads a Berkeley DB hash database through positioned reads. Every
// page is visited at most once (a bitmap), so a crafted file cannot make
// the reader loop or revisit pages: the work is bounded by the file size.
type bdb struct {
	r        io.ReaderAt
	order    binary.ByteOrder
	psize    int
	overhead int    // page header, plus the checksum area when checksummed
	npages   uint32 // pages in the file
	visited  []uint64
	page     []byte // the bucket page being walked
	ovpage   []byte // an overflow page
	maxValue int
}

func (d *bdb) errf(pgno uint32, err error, format string, args ...any) error {
	return &PageError{Pgno: pgno, Msg: fmt.Sprintf(format, args...), Err: err}
}

// readBDB reads rpm's Packages database (a Berkeley DB hash of 4-byte
// header numbers to header blobs) in place, read-only.
func readBDB(ctx context.Context, r *rootfs.FS, name string, lim Limits, add func(uint32, []byte) error) error {
	fh, err := r.Open(name)
	if err != nil {
		return err
	}
	defer fh.Close()
	fi, err := fh.Stat()
	if err != nil {
		return err
	}
	if fi.Size() > lim.MaxDBBytes {
		return fmt.Errorf("%w: %s is %d bytes (limit %d)", ErrLimit, name, fi.Size(), lim.MaxDBBytes)
	}
	return walkBDB(ctx, fh, fi.Size(), lim.MaxHeaderBytes, add)
}

// walkBDB calls fn for every key/value pair of the hash database in r
// (size bytes), values at most maxValue bytes.
func walkBDB(ctx context.Context, r io.ReaderAt, size int64, maxValue int, fn func(uint32, []byte) error) error {
	var meta [512]byte
	if size < int64(len(meta)) {
		return &PageError{Msg: fmt.Sprintf("file of %d bytes is smaller than a page", size), Err: ErrCorrupt}
	}
	if _, err := r.ReadAt(meta[:], 0); err != nil {
		return fmt.Errorf("rpmdb: berkeley db: read metadata: %w", err)
	}
	d := &bdb{r: r, maxValue: maxValue}
	switch {
	case binary.LittleEndian.Uint32(meta[12:]) == hashMagic:
		d.order = binary.LittleEndian
	case binary.BigEndian.Uint32(meta[12:]) == hashMagic:
		d.order = binary.BigEndian
	case binary.LittleEndian.Uint32(meta[12:]) == btreeMagic || binary.BigEndian.Uint32(meta[12:]) == btreeMagic:
		return d.errf(0, ErrUnsupported, "a btree, not a hash")
	default:
		return d.errf(0, ErrCorrupt, "magic %#x is not a Berkeley DB hash", binary.LittleEndian.Uint32(meta[12:]))
	}
	o := d.order
	if v := o.Uint32(meta[16:]); v < 6 || v > 10 {
		return d.errf(0, ErrUnsupported, "hash version %d", v)
	}
	ps := o.Uint32(meta[20:])
	if ps < 512 || ps > 65536 || ps&(ps-1) != 0 {
		return d.errf(0, ErrCorrupt, "page size %d", ps)
	}
	d.psize = int(ps)
	if meta[24] != 0 {
		return d.errf(0, ErrUnsupported, "encrypted (algorithm %d)", meta[24])
	}
	if meta[25] != pHashMeta {
		return d.errf(0, ErrCorrupt, "metadata page of type %d", meta[25])
	}
	d.overhead = pageHeaderSize
	if meta[26]&metaChecksum != 0 {
		d.overhead += 6 // PG_CHKSUM: unused[2], chksum[4]
	}
	if size < int64(ps) || size/int64(ps) > 1<<31 {
		return d.errf(0, ErrCorrupt, "%d bytes with %d-byte pages", size, ps)
	}
	d.npages = uint32(size / int64(ps))
	d.visited = make([]uint64, (d.npages+63)/64)
	d.page = make([]byte, ps)
	d.ovpage = make([]byte, ps)
	d.mark(0)

	maxBucket := o.Uint32(meta[72:])
	var spares [ncached]uint32
	for i := range spares {
		spares[i] = o.Uint32(meta[96+4*i:])
	}
	if maxBucket >= d.npages {
		return d.errf(0, ErrCorrupt, "%d buckets in %d pages", uint64(maxBucket)+1, d.npages)
	}
	for b := uint32(0); b <= maxBucket; b++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		// BS_TO_PAGE: bucket + spares[__db_log2(bucket+1)].
		pgno := uint64(b) + uint64(spares[log2ceil(b+1)])
		if pgno == 0 || pgno >= uint64(d.npages) {
			return d.errf(0, ErrCorrupt, "bucket %d at page %d of %d", b, pgno, d.npages)
		}
		if err := d.bucket(uint32(pgno), fn); err != nil {
			return err
		}
	}
	return nil
}

// log2ceil is __db_log2: the smallest i with 1<<i >= n.
func log2ceil(n uint32) int {
	if n <= 1 {
		return 0
	}
	return bits.Len32(n - 1)
}

func (d *bdb) mark(pgno uint32) bool {
	w, b := pgno/64, uint64(1)<<(pgno%64)
	if d.visited[w]&b != 0 {
		return false
	}
	d.visited[w] |= b
	return true
}

// read reads page pgno into buf, once per walk.
func (d *bdb) read(pgno uint32, buf []byte) error {
	if pgno == 0 || pgno >= d.npages {
		return d.errf(pgno, ErrCorrupt, "page number outside the %d pages", d.npages)
	}
	if !d.mark(pgno) {
		return d.errf(pgno, ErrCorrupt, "page reached twice (a loop or a shared page)")
	}
	if _, err := d.r.ReadAt(buf, int64(pgno)*int64(d.psize)); err != nil {
		return fmt.Errorf("rpmdb: berkeley db: read page %d: %w", pgno, err)
	}
	return nil
}

// bucket walks one bucket's chain of hash pages.
func (d *bdb) bucket(pgno uint32, fn func(uint32, []byte) error) error {
	o := d.order
	for first := true; pgno != 0; first = false {
		p := d.page
		if err := d.read(pgno, p); err != nil {
			return err
		}
		typ := p[25]
		if typ == pInvalid && first {
			return nil // allocated by a doubling of the table, never written
		}
		if typ != pHash && typ != pHashUnsorted {
			return d.errf(pgno, ErrCorrupt, "type %d in a bucket chain", typ)
		}
		next := o.Uint32(p[16:])
		n := int(o.Uint16(p[20:]))
		if n%2 != 0 {
			return d.errf(pgno, ErrCorrupt, "%d items, not key/value pairs", n)
		}
		start := d.overhead + 2*n
		if start > d.psize {
			return d.errf(pgno, ErrCorrupt, "%d items overrun the page", n)
		}
		inp := func(i int) int { return int(o.Uint16(p[d.overhead+2*i:])) }
		// Items fill the page from its end: item i spans inp[i] up to
		// inp[i-1] (the page end for item 0).
		item := func(i int) ([]byte, error) {
			a, b := inp(i), d.psize
			if i > 0 {
				b = inp(i - 1)
			}
			if a < start || a >= b || b > d.psize {
				return nil, d.errf(pgno, ErrCorrupt, "item %d at [%d,%d) outside [%d,%d)", i, a, b, start, d.psize)
			}
			return p[a:b], nil
		}
		for i := 0; i < n; i += 2 {
			k, err := item(i)
			if err != nil {
				return err
			}
			v, err := item(i + 1)
			if err != nil {
				return err
			}
			key, err := d.value(pgno, k, 64)
			if errors.Is(err, ErrLimit) {
				return d.errf(pgno, ErrCorrupt, "key longer than a header number")
			} else if err != nil {
				return err
			}
			if len(key) != 4 {
				return d.errf(pgno, ErrCorrupt, "key of %d bytes, want a 4-byte header number", len(key))
			}
			hnum := o.Uint32(key) // rpm writes it in host order, as Berkeley DB its pages
			// The value may need the page buffer: read it last.
			val, err := d.value(pgno, v, d.maxValue)
			if err != nil {
				return fmt.Errorf("header %d: %w", hnum, err)
			}
			if err := fn(hnum, val); err != nil {
				return err
			}
		}
		pgno = next
	}
	return nil
}

// value returns the bytes of an on-page or off-page item, at most max.
func (d *bdb) value(pgno uint32, it []byte, max int) ([]byte, error) {
	switch it[0] {
	case hKeyData:
		if len(it)-1 > max {
			return nil, d.errf(pgno, ErrLimit, "item of %d bytes (limit %d)", len(it)-1, max)
		}
		return it[1:], nil
	case hOffPage:
		if len(it) < hOffPageSize {
			return nil, d.errf(pgno, ErrCorrupt, "off-page item of %d bytes", len(it))
		}
		return d.overflow(d.order.Uint32(it[4:]), d.order.Uint32(it[8:]), max)
	case hDuplicate, hOffDup:
		return nil, d.errf(pgno, ErrUnsupported, "duplicate items (type %d)", it[0])
	case hBlob:
		return nil, d.errf(pgno, ErrUnsupported, "external blob item")
	}
	return nil, d.errf(pgno, ErrCorrupt, "item type %d", it[0])
}

// overflow reads an item of tlen bytes from the overflow chain at pgno.
func (d *bdb) overflow(pgno, tlen uint32, max int) ([]byte, error) {
	if int64(tlen) > int64(max) {
		return nil, d.errf(pgno, ErrLimit, "item of %d bytes (limit %d)", tlen, max)
	}
	if int64(tlen) > int64(d.npages)*int64(d.psize-d.overhead) {
		return nil, d.errf(pgno, ErrCorrupt, "item of %d bytes in a %d-page file", tlen, d.npages)
	}
	out := make([]byte, 0, tlen)
	p := d.ovpage
	for uint32(len(out)) < tlen {
		if pgno == 0 {
			return nil, d.errf(pgno, ErrCorrupt, "overflow chain ends after %d of %d bytes", len(out), tlen)
		}
		if err := d.read(pgno, p); err != nil {
			return nil, err
		}
		if p[25] != pOverflow {
			return nil, d.errf(pgno, ErrCorrupt, "type %d in an overflow chain", p[25])
		}
		n := int(d.order.Uint16(p[22:])) // hf_offset: the bytes on this page
		if n > d.psize-d.overhead || uint32(len(out)+n) > tlen {
			return nil, d.errf(pgno, ErrCorrupt, "%d bytes on an overflow page (%d of %d read)", n, len(out), tlen)
		}
		out = append(out, p[d.overhead:d.overhead+n]...)
		pgno = d.order.Uint32(p[16:])
	}
	return out, nil
}
