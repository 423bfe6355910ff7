package abuse

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/abusekit/abusekit/internal/mailmsg"
)

// ACNS, the Automated Copyright Notice System: copyright holders' agents
// send an XML <Infringement> document (Case/ID, Complainant, Source with
// TimeStamp, IP_Address, Port, Type, Content/Item/Title), as an
// application/xml attachment or in the body between "- - ---Start ACNS
// XML" and "- - ---End ACNS XML" lines. The infringement's TimeStamp is the
// abuse time. When the mail is also a Trust & Safety notice (AWS forwards
// DMCA notices this way), the notice's fields are kept and the ACNS facts
// are added to them.

const acnsFormat = "acns"

// SourceACNS is the Source of reports read from ACNS copyright notices.
const SourceACNS Source = "acns"

func init() {
	registerMailFormat(mailFormat{name: acnsFormat, priority: 45, match: acnsMailMatch, parse: acnsMailParse})
}

// maxACNSBytes bounds the XML read from one notice.
const maxACNSBytes = 1 << 20

type acnsDoc struct {
	XMLName xml.Name `xml:"Infringement"`
	Case    struct {
		ID string `xml:"ID"`
	} `xml:"Case"`
	Complainant struct {
		Entity string `xml:"Entity"`
		Email  string `xml:"Email"`
	} `xml:"Complainant"`
	Source struct {
		TimeStamp  string `xml:"TimeStamp"`
		IPAddress  string `xml:"IP_Address"`
		Port       string `xml:"Port"`
		Type       string `xml:"Type"`
		DNSName    string `xml:"DNS_Name"`
		URLBase    string `xml:"URL_Base"`
		NumberFile string `xml:"Number_Files"`
	} `xml:"Source"`
	Content struct {
		Items []struct {
			Title    string `xml:"Title"`
			FileName string `xml:"FileName"`
		} `xml:"Item"`
	} `xml:"Content"`
}

var (
	acnsStart = []byte("Start ACNS XML")
	acnsEnd   = []byte("End ACNS XML")
)

// acnsXML is the ACNS document of m: an XML attachment holding
// <Infringement, else the text between the Start/End ACNS XML lines.
func acnsXML(m *mailmsg.Message) []byte {
	for _, p := range m.Parts {
		if (p.MediaType == "application/xml" || p.MediaType == "text/xml" || strings.HasSuffix(strings.ToLower(p.Filename), ".xml")) &&
			bytes.Contains(p.Body[:min(len(p.Body), 4096)], []byte("<Infringement")) {
			return p.Body
		}
	}
	for _, p := range m.Parts {
		if !p.IsText() {
			continue
		}
		b := p.Body
		if p.MediaType == "text/html" {
			b = []byte(p.Text())
		}
		i := bytes.Index(b, acnsStart)
		if i < 0 {
			continue
		}
		rest := b[i+len(acnsStart):]
		if j := bytes.Index(rest, acnsEnd); j >= 0 {
			rest = rest[:j]
		}
		// The end marker's line starts with "- - ---"; drop it.
		if k := bytes.LastIndexByte(rest, '>'); k >= 0 {
			rest = rest[:k+1]
		}
		return rest
	}
	return nil
}

func acnsMailMatch(m *mailmsg.Message) bool { return acnsXML(m) != nil }

// parseACNS reads an ACNS document.
func parseACNS(data []byte) (*acnsDoc, error) {
	if len(data) > maxACNSBytes {
		return nil, fmt.Errorf("ACNS XML of more than %d bytes: %w", maxACNSBytes, ErrTooLarge)
	}
	var d acnsDoc
	dec := xml.NewDecoder(bytes.NewReader(bytes.TrimSpace(data)))
	dec.Strict = false
	dec.CharsetReader = func(_ string, r io.Reader) (io.Reader, error) { return r, nil }
	if err := dec.Decode(&d); err != nil {
		return nil, fmt.Errorf("ACNS XML: %w", err)
	}
	if d.Case.ID == "" && d.Source.IPAddress == "" {
		return nil, errors.New("ACNS XML without Case/ID and Source/IP_Address")
	}
	return &d, nil
}

func acnsMailParse(ctx context.Context, m *mailmsg.Message, o *options) ([]Report, error) {
	d, err := parseACNS(acnsXML(m))
	if err != nil {
		return nil, &ParseError{Format: acnsFormat, Err: err}
	}
	n := newNoticeReader(o, acnsFormat)
	n.plain = false
	// AWS forwarding the notice, not a notice sent to AWS's abuse address.
	from := m.From()
	lower := strings.ToLower(headOf(m.Text(), 64<<10))
	fromAWS := strings.HasSuffix(from, "@amazon.com") || strings.HasSuffix(from, "@amazonaws.com") ||
		strings.Contains(lower, "aws trust & safety") || strings.Contains(lower, "beginning of forwarded report")
	if err := readMailInto(ctx, n, m, nil); err != nil {
		return nil, err
	}
	n.recognized = fromAWS // the XML's own <Email>abuse@amazonaws.com</Email> says nothing
	rep := n.finish()
	rep.Source = SourceACNS
	if n.recognized {
		rep.Source, rep.Provider, rep.Role = SourceTrustAndSafety, ProviderAWS, RoleActor
	}
	rep.Kind = KindCopyright
	rep.Activity = arfFirst("copyright/"+strings.ToLower(strings.TrimSpace(d.Source.Type)), "copyright")
	if rep.CaseID == "" {
		rep.CaseID = strings.TrimSpace(d.Case.ID)
	}
	if !n.recognized {
		rep.Reporter = arfFirst(d.Complainant.Email, d.Complainant.Entity, rep.Reporter)
	}
	t, err := xarfTime("Source/TimeStamp", d.Source.TimeStamp)
	if err != nil {
		return nil, &ParseError{Format: acnsFormat, Err: err}
	}
	if !t.IsZero() {
		rep.AbuseTime = t // the infringement's time
	}
	ip := arfParseAddr(d.Source.IPAddress)
	var port uint16
	if p := strings.TrimSpace(d.Source.Port); p != "" {
		v, err := strconv.ParseInt(p, 10, 64)
		if err != nil {
			return nil, &ParseError{Format: acnsFormat, Err: fmt.Errorf("Source/Port: %q is not a number", p)}
		}
		if port, err = arfPort(v, "Source/Port"); err != nil {
			return nil, &ParseError{Format: acnsFormat, Err: err}
		}
	}
	if ip.IsValid() {
		rep.Resources.IPs = arfAppendAddr(rep.Resources.IPs, ip)
		e := Evidence{Time: t, SrcIP: ip, SrcPort: port}
		e.Raw = "acns " + arfFirst(d.Source.Type, "infringement") + " " + gdHostPort(ip, port)
		for _, it := range d.Content.Items {
			if x := arfFirst(it.Title, it.FileName); x != "" {
				e.Raw += " " + strconvQuote(x)
				break
			}
		}
		if err := addEvidence(o, &rep, e); err != nil {
			return nil, err
		}
	}
	return []Report{rep}, nil
}

func strconvQuote(s string) string {
	if len(s) > 200 {
		s = s[:200]
	}
	return strconv.Quote(s)
}
