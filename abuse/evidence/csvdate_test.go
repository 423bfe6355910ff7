package evidence

import (
	"strings"
	"testing"
	"time"
)

// TestCSVDateAndTimeColumns: a feed that writes the date and the time of
// day in two columns (AbuseHub: event_date, event_time) gives records with
// both; a date column alone gives no time (no clock), not a wrong one.
func TestCSVDateAndTimeColumns(t *testing.T) {
	in := "report_id,report_type,src_ip,src_port,dst_ip,dst_port,event_date,event_time,malware_name\n" +
		"AH-100,BOTNET_INFECTION,54.210.3.4,49822,198.51.100.77,80,2026-11-22,03:14:15,mirai\n"
	sc := NewScanner(strings.NewReader(in), Options{Reference: ref})
	if !sc.Scan() {
		t.Fatalf("no record: %v", sc.Err())
	}
	r := sc.Record()
	if want := time.Date(2026, 11, 22, 3, 14, 15, 0, time.UTC); !r.Time.Equal(want) || r.SrcPort != 49822 || r.DstPort != 80 {
		t.Errorf("record %+v, want time %v", r, want)
	}
	sc = NewScanner(strings.NewReader("src_ip,dst_port,event_date\n54.210.3.4,22,2026-11-22\n"), Options{Reference: ref})
	if !sc.Scan() || !sc.Record().Time.IsZero() {
		t.Errorf("date alone: %+v, %v", sc.Record(), sc.Err())
	}
}
