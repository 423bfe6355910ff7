package mailmsg

import (
	"bytes"
	"strings"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// HTMLText extracts the readable text of an HTML document: script, style
// and head contents are skipped, block elements (<br>, <p>, <div>, <tr>,
// <li>, headings, <pre>) end lines, table cells are separated by spaces,
// whitespace inside <pre> is kept and collapsed elsewhere. It never fails:
// broken HTML gives what the tokenizer could read.
func HTMLText(b []byte) string {
	z := html.NewTokenizer(bytes.NewReader(b))
	var out strings.Builder
	skip := 0 // depth inside script/style/head/title
	pre := 0
	space := false // a collapsed space is pending
	newline := func() {
		s := out.String()
		if len(s) > 0 && !strings.HasSuffix(s, "\n") {
			out.WriteByte('\n')
		}
		space = false
	}
	for {
		tt := z.Next()
		switch tt {
		case html.ErrorToken:
			return strings.TrimSpace(out.String()) + "\n"
		case html.TextToken:
			if skip > 0 {
				continue
			}
			t := string(z.Text())
			if pre > 0 {
				out.WriteString(t)
				continue
			}
			if isSpaceStart(t) {
				space = true
			}
			fields := strings.Fields(t)
			for i, f := range fields {
				if space && out.Len() > 0 && !strings.HasSuffix(out.String(), "\n") {
					out.WriteByte(' ')
				}
				out.WriteString(f)
				space = i < len(fields)-1 || isSpaceEnd(t)
			}
		case html.StartTagToken, html.SelfClosingTagToken, html.EndTagToken:
			name, _ := z.TagName()
			a := atom.Lookup(name)
			start := tt != html.EndTagToken
			switch a {
			case atom.Script, atom.Style, atom.Head, atom.Title, atom.Noscript, atom.Template:
				if tt == html.SelfClosingTagToken {
					continue
				}
				if start {
					skip++
				} else if skip > 0 {
					skip--
				}
			case atom.Pre, atom.Textarea:
				newline()
				if tt == html.SelfClosingTagToken {
					continue
				}
				if start {
					pre++
				} else if pre > 0 {
					pre--
				}
			case atom.Br:
				out.WriteByte('\n')
				space = false
			case atom.P, atom.Div, atom.Tr, atom.Li, atom.Ul, atom.Ol, atom.Table,
				atom.H1, atom.H2, atom.H3, atom.H4, atom.H5, atom.H6, atom.Blockquote,
				atom.Hr, atom.Dl, atom.Dt, atom.Dd, atom.Section, atom.Article,
				atom.Header, atom.Footer, atom.Tbody, atom.Thead, atom.Body, atom.Html:
				newline()
				if a == atom.P && !start {
					out.WriteByte('\n')
				}
			case atom.Td, atom.Th:
				if start && !strings.HasSuffix(out.String(), "\n") && out.Len() > 0 {
					out.WriteByte(' ')
				}
				space = false
			}
		}
	}
}

func isSpaceStart(s string) bool { return s != "" && strings.ContainsRune(" \t\r\n\f", rune(s[0])) }
func isSpaceEnd(s string) bool {
	return s != "" && strings.ContainsRune(" \t\r\n\f", rune(s[len(s)-1]))
}
