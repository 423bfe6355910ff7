package evidence

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestScannerCSV(t *testing.T) {
	in := strings.Join([]string{
		"Please find the offending connections below.",
		"",
		"\ufeffTimestamp,Source IP,Source Port,Destination IP,Destination Port,Protocol,Note",
		`2023-04-27T14:46:47Z,203.0.113.5,50123,192.0.2.15,22,TCP,"scan, fast"`,
		`"Thu, 27 Apr 2023 14:46:48 GMT",203.0.113.5,,192.0.2.16,23,tcp,`,
		`1682606809,203.0.113.5,50125,192.0.2.17,80,udp,"a ""quoted"" note"`,
		`1682606810123,2001:db8::5,50126,2001:db8::17,443,,`,
		`not,an,evidence,row`,
		`2023-04-27T14:46:47Z,203.0.113.5,50123,192.0.2.15,99999,TCP,port out of range`,
		`"broken,203.0.113.5,1,192.0.2.1,22,tcp,`,
		"13.125.40.201  192.0.2.15  22  Thu Apr 27 14:46:47 2023",
		"attacker;victim;port;date",
		"203.0.113.9;192.0.2.99;3389;27 Apr 2023 14:46:47 +0000",
	}, "\n")
	got, err := scanAll(t, strings.NewReader(in), Options{Reference: ref})
	if err != nil {
		t.Fatal(err)
	}
	a5, a9 := ip("203.0.113.5"), ip("203.0.113.9")
	want := []scanned{
		{4, LayoutCSV, Record{Time: seedTime, SrcIP: a5, SrcPort: 50123, DstIP: ip("192.0.2.15"), DstPort: 22, Proto: "tcp", Raw: `2023-04-27T14:46:47Z,203.0.113.5,50123,192.0.2.15,22,TCP,"scan, fast"`}},
		{5, LayoutCSV, Record{Time: utc(2023, 4, 27, 14, 46, 48, 0), SrcIP: a5, DstIP: ip("192.0.2.16"), DstPort: 23, Proto: "tcp", Raw: `"Thu, 27 Apr 2023 14:46:48 GMT",203.0.113.5,,192.0.2.16,23,tcp,`}},
		{6, LayoutCSV, Record{Time: utc(2023, 4, 27, 14, 46, 49, 0), SrcIP: a5, SrcPort: 50125, DstIP: ip("192.0.2.17"), DstPort: 80, Proto: "udp", Raw: `1682606809,203.0.113.5,50125,192.0.2.17,80,udp,"a ""quoted"" note"`}},
		{7, LayoutCSV, Record{Time: utc(2023, 4, 27, 14, 46, 50, 123e6), SrcIP: ip("2001:db8::5"), SrcPort: 50126, DstIP: ip("2001:db8::17"), DstPort: 443, Raw: `1682606810123,2001:db8::5,50126,2001:db8::17,443,,`}},
		{11, LayoutColumns, Record{Time: seedTime, SrcIP: ip("13.125.40.201"), DstIP: ip("192.0.2.15"), DstPort: 22, Raw: "13.125.40.201  192.0.2.15  22  Thu Apr 27 14:46:47 2023"}},
		{13, LayoutCSV, Record{Time: seedTime, SrcIP: a9, DstIP: ip("192.0.2.99"), DstPort: 3389, Raw: "203.0.113.9;192.0.2.99;3389;27 Apr 2023 14:46:47 +0000"}},
	}
	if diff := cmp.Diff(want, got, cmpRecord); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestCSVHeaderNeedsSource(t *testing.T) {
	var c csvState
	for _, h := range []string{"a,b,c", "time,port", "Hello, world", "just words"} {
		if c.header([]byte(h)) {
			t.Errorf("header(%q) = true", h)
		}
	}
	if !c.header([]byte("src,dst")) || c.src != 0 || c.dst != 1 || c.comma != ',' {
		t.Errorf("header(src,dst): %+v", c)
	}
	if !c.header([]byte("ts\tattacker\tdport")) || c.src != 1 || c.dport != 2 || c.time != 0 || c.comma != '\t' {
		t.Errorf("header(tab): %+v", c)
	}
}

func TestScannerCSVAbuseIPDBStyle(t *testing.T) {
	in := "IP,Categories,ReportDate,Comment\n203.0.113.7,\"14,15\",2023-04-27T14:46:47Z,\"Port scan: 22, 23\"\n"
	got, err := scanAll(t, strings.NewReader(in), Options{Reference: ref})
	if err != nil {
		t.Fatal(err)
	}
	want := []scanned{{2, LayoutCSV, Record{Time: seedTime, SrcIP: ip("203.0.113.7"), Raw: "203.0.113.7,\"14,15\",2023-04-27T14:46:47Z,\"Port scan: 22, 23\""}}}
	if diff := cmp.Diff(want, got, cmpRecord); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// TestCSVUTCHeader: a CSV whose header says its times are UTC
// (Shadowserver's "timestamp","ip",… reports, whose timestamps are UTC by
// its documentation; a "…_utc" column) is read in UTC whatever zone the
// report around it states; another CSV's zone-less times take that zone.
func TestCSVUTCHeader(t *testing.T) {
	ref := time.Date(2015, 3, 3, 16, 56, 1, 0, time.FixedZone("", 3600)) // the mail's Date: +0100
	for _, tt := range []struct {
		name, in string
		want     time.Time
		zoneless int
	}{
		{"shadowserver", "\"timestamp\",\"ip\",\"port\",\"asn\"\n\"2015-03-02 00:45:59\",\"172.16.10.13\",2005,12345\n", time.Date(2015, 3, 2, 0, 45, 59, 0, time.UTC), 0},
		{"time_utc column", "time_utc,src_ip,dst_port\n2015-03-02 00:45:59,172.16.10.13,22\n", time.Date(2015, 3, 2, 0, 45, 59, 0, time.UTC), 0},
		{"abusehub, local", "report_type,event_date,event_time,src_ip,src_port\nShadowserver Botnet Drone,2015-03-02,01:45:59,172.16.10.13,2005\n", time.Date(2015, 3, 2, 0, 45, 59, 0, time.UTC), 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			n := 0
			sc := NewScanner(strings.NewReader(tt.in), Options{Reference: ref, Zoneless: &n})
			if !sc.Scan() {
				t.Fatalf("no record: %v", sc.Err())
			}
			if got := sc.Record().Time; !got.Equal(tt.want) {
				t.Errorf("time %v, want %v", got, tt.want)
			}
			if n != tt.zoneless {
				t.Errorf("zoneless count %d, want %d", n, tt.zoneless)
			}
		})
	}
}
