package ec2test

import (
	"bytes"
	"encoding/xml"
	"net/http"
	"strconv"
	"time"
)

const ec2NS = "http://ec2.amazonaws.com/doc/2016-11-15/"

func xmlnsFor(service string) string {
	switch service {
	case "autoscaling":
		return "http://autoscaling.amazonaws.com/doc/2011-01-01/"
	case "elasticloadbalancing":
		return "http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/"
	case "monitoring":
		return "http://monitoring.amazonaws.com/doc/2010-08-01/"
	case "iam":
		return "https://iam.amazonaws.com/doc/2010-05-08/"
	}
	return ec2NS
}

func xmlEscape(b *bytes.Buffer, s string) { xml.EscapeText(b, []byte(s)) } //nolint:errcheck // bytes.Buffer

// items is an EC2 list that is always written, empty or not:
// <reservationSet><item>…</item></reservationSet>.
type items[T any] struct {
	Item []T `xml:"item"`
}

// members is an awsquery list that is always written:
// <AutoScalingGroups><member>…</member></AutoScalingGroups>.
type members[T any] struct {
	Member []T `xml:"member"`
}

// ts formats a timestamp as EC2 does: 2026-01-02T15:04:05.000Z.
func ts(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02T15:04:05.000Z")
}

// innerXML marshals v's fields without an enclosing element.
func innerXML(v any) []byte {
	if v == nil {
		return nil
	}
	var b bytes.Buffer
	enc := xml.NewEncoder(&b)
	if err := enc.EncodeElement(v, xml.StartElement{Name: xml.Name{Local: "x"}}); err != nil {
		panic("ec2test: marshal response: " + err.Error())
	}
	enc.Flush() //nolint:errcheck // bytes.Buffer
	out := b.Bytes()
	out = bytes.TrimPrefix(out, []byte("<x>"))
	out = bytes.TrimSuffix(out, []byte("</x>"))
	return out
}

// writeEC2 writes an EC2 Query response:
// <ActionResponse xmlns="…"><requestId>…</requestId>fields</ActionResponse>.
func writeEC2(w http.ResponseWriter, action, reqID string, res any) {
	var b bytes.Buffer
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n<" + action + `Response xmlns="` + ec2NS + `"><requestId>` + reqID + "</requestId>")
	b.Write(innerXML(res))
	b.WriteString("</" + action + "Response>")
	w.Header().Set("Content-Type", "text/xml;charset=UTF-8")
	w.Header().Set("Content-Length", strconv.Itoa(b.Len()))
	w.Header().Set("X-Amzn-RequestId", reqID)
	w.WriteHeader(http.StatusOK)
	w.Write(b.Bytes())
}

// writeAWSQuery writes an awsquery response:
// <ActionResponse><ActionResult>fields</ActionResult><ResponseMetadata>….
func writeAWSQuery(w http.ResponseWriter, service, action, reqID string, res any) {
	var b bytes.Buffer
	b.WriteString("<" + action + `Response xmlns="` + xmlnsFor(service) + `">`)
	b.WriteString("<" + action + "Result>")
	b.Write(innerXML(res))
	b.WriteString("</" + action + "Result>")
	b.WriteString("<ResponseMetadata><RequestId>" + reqID + "</RequestId></ResponseMetadata></" + action + "Response>")
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("Content-Length", strconv.Itoa(b.Len()))
	w.Header().Set("X-Amzn-RequestId", reqID)
	w.WriteHeader(http.StatusOK)
	w.Write(b.Bytes())
}

// ec2Return is the body of EC2 actions that answer <return>true</return>.
type ec2Return struct {
	Return bool `xml:"return"`
}

// xmlTag is an EC2 tag in a tagSet.
type xmlTag struct {
	Key   string `xml:"key"`
	Value string `xml:"value"`
}
