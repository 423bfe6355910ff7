package clitest

import "testing"

func TestNormalize(t *testing.T) {
	r := NewReplacer("/tmp/TestX123", "<TMP>")
	in := `{"time":"2026-12-07T21:18:56.123456Z","duration_ns":1234,"host_pid":77} ran in 1.234ms (plugin pid 4242) at /tmp/TestX123/j sha 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef token 0123456789abcdef0123456789abcdef`
	want := `{"time":"<TIME>","duration_ns":0,"host_pid":0} ran in <DUR> (plugin pid <PID>) at <TMP>/j sha <SHA256> token <TOKEN>`
	if got := r.Normalize(in); got != want {
		t.Errorf("Normalize:\n got %s\nwant %s", got, want)
	}
}
