package abuse

import "testing"

// TestKindFromTextWords: kinds are read from whole words, not substrings
// ("reconfiguring" is not "recon", "scandal" is not "scan").
func TestKindFromTextWords(t *testing.T) {
	tests := []struct {
		in   string
		want Kind
	}{
		{"The instance is reconfiguring its services", KindOther},
		{"a scandal", KindOther},
		{"misconfigured firewall", KindOther},
		{"a prospective customer", KindOther},
		{"Port Scanning", KindPortScan},
		{"port-scan", KindPortScan},
		{"Recon:EC2/Portscan", KindPortScan},
		{"network reconnaissance", KindPortScan},
		{"probes to TCP 23", KindPortScan},
		{"activity which resembles attempts to access remote hosts on the internet without authorization", KindIntrusion},
		{"Intrusion Attempts", KindIntrusion},
		{"SSH brute-force scanning", KindIntrusion},
		{"SSH bruteforce", KindIntrusion},
		{"phishing spam", KindPhishing},
		{"DDoS", KindDDoS},
		{"Denial-of-Service", KindDDoS},
		{"UDP flooding", KindDDoS},
		{"crypto-mining", KindMalware},
		{"C&C server", KindMalware},
		{"DMCA notice", KindCopyright},
	}
	for _, tt := range tests {
		if got := kindFromText(tt.in); got != tt.want {
			t.Errorf("kindFromText(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}
