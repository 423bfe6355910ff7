package ec2test

import (
	"encoding/xml"
	"strings"
)

// describeSpec is what one EC2 Describe* action adds to the shape they
// all share: DryRun, MaxResults, the ids-with-MaxResults rule, filters,
// candidates (named ones or the whole list), matching and paging.
// R is the stored resource, X what a page item is.
type describeSpec[R any, X any] struct {
	// lo and hi bound MaxResults; an unpaged action reads neither
	// MaxResults nor NextToken and answers with every hit.
	lo, hi  int64
	unpaged bool
	// named reports that the request names resources (ids, names);
	// namedParam, when set, is the parameter EC2 says cannot go with
	// MaxResults ("volumeSet").
	named      bool
	namedParam string
	// check, when set, rejects unknown filter names before any resource
	// is looked at.
	check attrFunc
	// lookup returns the named resources (or, with all nil, every
	// candidate); all returns the candidates when none are named.
	lookup func() ([]R, error)
	all    func() []R
	// keep, when set, drops a candidate before its filters are matched.
	keep func(R) bool
	// id is the resource id (for tag filters), attr its filter values.
	id   func(R) string
	attr func(R) attrFunc
	item func(R) X
}

// describe runs one Describe* action and returns the requested page of
// items and the token of the next one ("" on the last page).
func describe[R any, X any](st *state, q *qnode, s describeSpec[R, X]) ([]X, string, error) {
	if err := dryRun(q); err != nil {
		return nil, "", err
	}
	var max int64
	if !s.unpaged {
		var err error
		if max, err = maxResults(q, s.lo, s.hi); err != nil {
			return nil, "", err
		}
	}
	if s.named && s.namedParam != "" && max > 0 {
		return nil, "", errf("InvalidParameterCombination", "The parameter %s cannot be used with the parameter maxResults", s.namedParam)
	}
	filters, err := parseFilters(q)
	if err != nil {
		return nil, "", err
	}
	if s.check != nil {
		if err := checkFilters(filters, s.check); err != nil {
			return nil, "", err
		}
	}
	var cand []R
	if s.named || s.all == nil {
		if cand, err = s.lookup(); err != nil {
			return nil, "", err
		}
	} else {
		cand = s.all()
	}
	var hits []X
	for _, r := range cand {
		if s.keep != nil && !s.keep(r) {
			continue
		}
		ok, err := st.match(filters, s.id(r), s.attr(r))
		if err != nil {
			return nil, "", err
		}
		if ok {
			hits = append(hits, s.item(r))
		}
	}
	if s.unpaged {
		return hits, "", nil
	}
	start, end, next, err := page(len(hits), max, q.str("NextToken"))
	if err != nil {
		return nil, "", err
	}
	return hits[start:end], next, nil
}

// lookupEach looks every id up in turn and fails on the first error.
func lookupEach[R any](ids []string, lookup func(string) (R, error)) ([]R, error) {
	var out []R
	for _, id := range ids {
		r, err := lookup(id)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// lookupAllOrMissing looks every id up; ids whose error is a missing one
// are gathered and reported together by notFound ('a', 'b'), any other
// error is returned at once.
func lookupAllOrMissing[R any](ids []string, lookup func(string) (R, error), missing func(code string) bool, notFound func(list string) error) ([]R, error) {
	var out []R
	var gone []string
	for _, id := range ids {
		r, err := lookup(id)
		if err != nil {
			if !missing(asAPIError(err).code) {
				return nil, err
			}
			gone = append(gone, id)
			continue
		}
		out = append(out, r)
	}
	if len(gone) > 0 {
		return nil, notFound(strings.Join(gone, "', '"))
	}
	return out, nil
}

// visibleOf returns the resources of all that keep accepts.
func visibleOf[R any](all []R, keep func(R) bool) []R {
	var out []R
	for _, r := range all {
		if keep(r) {
			out = append(out, r)
		}
	}
	return out
}

// namedOf checks that every id exists and returns the resources of all
// that are named (every one when ids is empty), in all's order.
func namedOf[R any](ids []string, all []R, id func(R) string, exists func(string) bool, notFound func(id string) error) ([]R, error) {
	want := map[string]bool{}
	for _, i := range ids {
		if !exists(i) {
			return nil, notFound(i)
		}
		want[i] = true
	}
	if len(want) == 0 {
		return all, nil
	}
	var out []R
	for _, r := range all {
		if want[id(r)] {
			out = append(out, r)
		}
	}
	return out, nil
}

// ec2Page is an EC2 Describe answer: <set><item>…</item></set>, then
// <nextToken>…</nextToken> unless it is the last page.
type ec2Page[X any] struct {
	set   string
	items []X
	next  string
}

// MarshalXML writes the page as the fields of start.
func (p ec2Page[X]) MarshalXML(e *xml.Encoder, start xml.StartElement) error {
	if err := e.EncodeToken(start); err != nil {
		return err
	}
	if err := e.EncodeElement(items[X]{Item: p.items}, xml.StartElement{Name: xml.Name{Local: p.set}}); err != nil {
		return err
	}
	if p.next != "" {
		if err := e.EncodeElement(p.next, xml.StartElement{Name: xml.Name{Local: "nextToken"}}); err != nil {
			return err
		}
	}
	return e.EncodeToken(start.End())
}

// describeSet runs describe and answers with the page as the list set.
func describeSet[R any, X any](st *state, q *qnode, set string, s describeSpec[R, X]) (any, error) {
	hits, next, err := describe(st, q, s)
	if err != nil {
		return nil, err
	}
	return ec2Page[X]{set: set, items: hits, next: next}, nil
}
