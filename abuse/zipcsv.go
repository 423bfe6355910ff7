package abuse

import (
	"archive/zip"
	"bytes"
	"context"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/abusekit/abusekit/internal/mailmsg"
)

// Feeds such as Shadowserver's send their reports as zipped CSV
// attachments (report.zip holding 2026-11-20-scan_redis-….csv). The CSV
// and text members of a zip attachment are read as text attachments are
// (package evidence reads a CSV by its header), within bounds: at most
// maxZipMembers members, each and all together at most the input limit.
// A zip that cannot be opened is a WarnUnreadablePart.

const maxZipMembers = 64

func isZipPart(p *mailmsg.Part) bool {
	return p.MediaType == "application/zip" || p.MediaType == "application/x-zip-compressed" || p.MediaType == "application/x-zip" ||
		(p.MediaType == "application/octet-stream" && strings.HasSuffix(strings.ToLower(p.Filename), ".zip"))
}

func zipTextMember(name string) bool {
	switch strings.ToLower(path.Ext(name)) {
	case ".csv", ".txt", ".log":
		return true
	}
	return false
}

// zipWarning is the warning a zip attachment calls for: none when it has
// a text member (read by scanZip), unreadable-part when it is no zip,
// unknown-attachment when it holds no text.
func zipWarning(p *mailmsg.Part, name string) (Warning, bool) {
	zr, err := zip.NewReader(bytes.NewReader(p.Body), int64(len(p.Body)))
	if err != nil {
		return Warning{Code: WarnUnreadablePart, Part: name, Message: fmt.Sprintf("zip attachment unreadable: %v", err)}, true
	}
	for _, f := range zr.File {
		if zipTextMember(f.Name) {
			return Warning{}, false
		}
	}
	return Warning{Code: WarnUnknownAttachment, Part: name, Message: "zip attachment without a CSV or text member: not read"}, true
}

// scanZip reads the text members of a zip attachment as evidence. The
// names of its members feed the kind (Shadowserver's report types).
func (n *noticeReader) scanZip(ctx context.Context, p *mailmsg.Part) error {
	zr, err := zip.NewReader(bytes.NewReader(p.Body), int64(len(p.Body)))
	if err != nil {
		return nil // said by mailWarnings (zipWarning)
	}
	budget := n.o.limits.MaxBytes
	members := 0
	for _, f := range zr.File {
		if !zipTextMember(f.Name) {
			continue
		}
		if members++; members > maxZipMembers {
			addWarning(&n.rep, Warning{Code: WarnUnreadablePart, Part: p.Filename, Message: fmt.Sprintf("more than %d text members: the rest not read", maxZipMembers)})
			break
		}
		if n.kindForward == "" {
			if k := feedKind(f.Name); k != "" {
				n.kindForward = k
			}
		}
		rc, err := f.Open()
		if err != nil {
			addWarning(&n.rep, Warning{Code: WarnUnreadablePart, Part: p.Filename + ": " + f.Name, Message: err.Error()})
			continue
		}
		lr := &io.LimitedReader{R: rc, N: budget + 1}
		err = n.scan(ctx, lr, n.lineBase)
		rc.Close()
		if err != nil {
			if isZipDataError(err) {
				addWarning(&n.rep, Warning{Code: WarnUnreadablePart, Part: p.Filename + ": " + f.Name, Message: err.Error()})
				continue
			}
			return err
		}
		if lr.N <= 0 {
			return parseErr(n.format, 0, fmt.Errorf("zip member %s: more than %d bytes uncompressed: %w", f.Name, n.o.limits.MaxBytes, ErrTooLarge))
		}
		budget = lr.N - 1
	}
	return nil
}

func isZipDataError(err error) bool {
	s := err.Error()
	return strings.Contains(s, "zip:") || strings.Contains(s, "flate:")
}

// feedKind is the kind a feed's report name gives (Shadowserver, its
// members named YYYY-MM-DD-<feed>-…csv: "scan_redis", "ssl_scan",
// "compromised_website" list exposed or compromised services;
// "botnet_drone", "sinkhole": infected hosts; "brute_force": login
// attacks; "ddos", "amplification"; "spam_url"; "darknet": scans).
func feedKind(name string) Kind {
	l := strings.ToLower(name)
	switch {
	case strings.Contains(l, "drone"), strings.Contains(l, "sinkhole"), strings.Contains(l, "botnet"), strings.Contains(l, "malware"):
		return KindMalware
	case strings.Contains(l, "brute_force"), strings.Contains(l, "bruteforce"):
		return KindIntrusion
	case strings.Contains(l, "ddos"), strings.Contains(l, "amplification"):
		return KindDDoS
	case strings.Contains(l, "phish"):
		return KindPhishing
	case strings.Contains(l, "spam"): // spam_url
		return KindSpam
	case strings.Contains(l, "darknet"):
		return KindPortScan // the address sent packets to unused address space
	case strings.Contains(l, "scan_"), strings.Contains(l, "_scan"), strings.Contains(l, "compromised_website"),
		strings.Contains(l, "open_"), strings.Contains(l, "vulnerable"):
		return KindOther // an exposed or compromised service was found on the address, not a scan from it
	}
	return ""
}
