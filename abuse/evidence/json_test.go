package evidence

import (
	"encoding/json"
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func checkAppendJSON(t *testing.T, r Record) {
	t.Helper()
	want, err := json.Marshal(r)
	if err != nil {
		t.Fatalf("json.Marshal(%+v): %v", r, err)
	}
	got := r.AppendJSON(nil)
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("AppendJSON(%+v) differs from encoding/json (-want +got):\n%s", r, diff)
	}
}

func TestAppendJSONMatchesEncodingJSON(t *testing.T) {
	kst := time.FixedZone("KST", 9*3600)
	for _, r := range []Record{
		{},
		{SrcIP: ip("13.125.40.201")},
		{Time: seedTime, SrcIP: ip("13.125.40.201"), DstIP: ip("192.0.2.15"), DstPort: 22, Proto: "tcp", Raw: "13.125.40.201  192.0.2.15  22  Thu Apr 27 14:46:47 2023"},
		{Time: utc(2023, 4, 27, 14, 46, 47, 123456000), SrcIP: ip("2001:db8::7"), SrcPort: 65535, DstIP: ip("2001:db8::1"), DstPort: 1},
		{Time: utc(1, 1, 1, 0, 0, 0, 1)},
		{Time: utc(9999, 12, 31, 23, 59, 59, 999999999)},
		{Time: seedTime.In(kst)},
		{Time: seedTime.Local()},
		{SrcIP: netip.MustParseAddr("fe80::1%eth0"), DstIP: netip.MustParseAddr("fe80::2%a\"<b>")},
		{SrcIP: netip.MustParseAddr("::ffff:1.2.3.4")},
		{Proto: "t\"cp", Raw: "a\\b\"c<d>e&f\x00\x01\x1f\x7f\b\f\n\r\t"},
		{Raw: "invalid \xff\xfe utf8 \xe2\x82 end"},
		{Raw: "line sep \u2028 para \u2029 ünïcødé 한국어 😀"},
	} {
		checkAppendJSON(t, r)
	}
}

func TestAppendJSONAppends(t *testing.T) {
	r := Record{SrcIP: ip("192.0.2.1"), Raw: "x"}
	got := string(r.AppendJSON([]byte("prefix ")))
	if want := `prefix {"src_ip":"192.0.2.1","dst_ip":"","raw":"x"}`; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

func TestAppendJSONAllocs(t *testing.T) {
	r := Record{Time: seedTime, SrcIP: ip("13.125.40.201"), DstIP: ip("192.0.2.15"), DstPort: 22, Proto: "tcp", Raw: "13.125.40.201  192.0.2.15  22  Thu Apr 27 14:46:47 2023"}
	buf := make([]byte, 0, 512)
	if n := testing.AllocsPerRun(100, func() { buf = r.AppendJSON(buf[:0]) }); n != 0 {
		t.Errorf("AppendJSON allocates %v times per record, want 0", n)
	}
}

func TestAppendTimeMatchesAppendFormat(t *testing.T) {
	// Every day boundary and leap rule across the years encoding/json
	// accepts, plus pseudo-random instants.
	check := func(tm time.Time) {
		t.Helper()
		want := tm.AppendFormat(nil, time.RFC3339Nano)
		if got := appendTime(nil, tm); string(got) != string(want) {
			t.Fatalf("appendTime(%v) = %s, want %s", tm.Unix(), got, want)
		}
	}
	for _, y := range []int{0, 1, 4, 99, 100, 400, 1582, 1600, 1900, 1969, 1970, 2000, 2023, 2024, 2100, 2400, 9999} {
		for _, md := range [][2]int{{1, 1}, {2, 28}, {2, 29}, {3, 1}, {12, 31}} {
			check(time.Date(y, time.Month(md[0]), md[1], 0, 0, 0, 0, time.UTC))
			check(time.Date(y, time.Month(md[0]), md[1], 23, 59, 59, 999999999, time.UTC))
		}
	}
	x := uint64(88172645463325252)
	for i := 0; i < 20000; i++ {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		sec := int64(x%(253402300799+62167219200)) - 62167219200
		check(time.Unix(sec, int64(x%1e9)).UTC())
	}
}

func TestPlain8(t *testing.T) {
	allSafe := func(x uint64) bool {
		for i := 0; i < 8; i++ {
			c := byte(x >> (8 * i))
			if c >= 0x80 || !safe[c] {
				return false
			}
		}
		return true
	}
	// Every byte value in every position, among plain bytes.
	for pos := 0; pos < 8; pos++ {
		for c := 0; c < 256; c++ {
			x := uint64(0x6161616161616161) &^ (0xff << (8 * pos)) // "aaaaaaaa"
			x |= uint64(c) << (8 * pos)
			if plain8(x) != allSafe(x) {
				t.Fatalf("plain8(%#x) = %v", x, plain8(x))
			}
		}
	}
	// Random words of mostly printable ASCII with some specials.
	s := uint64(2463534242)
	for i := 0; i < 200000; i++ {
		var x uint64
		for j := 0; j < 8; j++ {
			s ^= s << 13
			s ^= s >> 7
			s ^= s << 17
			c := byte(0x20 + s%0x60)
			if s>>60 == 0 {
				c = byte(s >> 8)
			}
			x |= uint64(c) << (8 * j)
		}
		if plain8(x) != allSafe(x) {
			t.Fatalf("plain8(%#x) = %v", x, plain8(x))
		}
	}
}
