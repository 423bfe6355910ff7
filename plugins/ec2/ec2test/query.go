package ec2test

import (
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// Limits on what the form decoder accepts. A real SDK request stays far
// below them; they keep a hostile body from costing unbounded memory.
const (
	maxQueryBody   = 1 << 20 // bytes of form body
	maxQueryParams = 10000   // key=value pairs
	maxQueryDepth  = 12      // dotted segments in one key
	maxListIndex   = 100000  // largest N accepted in Key.N
)

// errBadQuery is wrapped by every form-decoding error.
var errBadQuery = errors.New("ec2test: malformed query request")

// qnode is one node of a decoded AWS Query / EC2 Query form: the keys
// "Filter.1.Name=x&Filter.1.Value.1=y" become a tree
// Filter -> 1 -> {Name: x, Value -> 1: y}.
type qnode struct {
	val  string
	set  bool
	kids map[string]*qnode
}

// parseQuery decodes an application/x-www-form-urlencoded body into a
// tree. It is a pure function, fuzzed by FuzzParseQuery.
func parseQuery(body []byte) (*qnode, error) {
	if len(body) > maxQueryBody {
		return nil, fmt.Errorf("%w: body of %d bytes exceeds %d", errBadQuery, len(body), maxQueryBody)
	}
	vals, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errBadQuery, err)
	}
	return queryTree(vals)
}

func queryTree(vals url.Values) (*qnode, error) {
	if len(vals) > maxQueryParams {
		return nil, fmt.Errorf("%w: %d parameters exceed %d", errBadQuery, len(vals), maxQueryParams)
	}
	root := &qnode{}
	for k, vs := range vals {
		if k == "" {
			continue
		}
		segs := strings.Split(k, ".")
		if len(segs) > maxQueryDepth {
			return nil, fmt.Errorf("%w: key %.64q nests deeper than %d", errBadQuery, k, maxQueryDepth)
		}
		n := root
		for _, s := range segs {
			if s == "" {
				return nil, fmt.Errorf("%w: empty segment in key %.64q", errBadQuery, k)
			}
			if s[0] >= '0' && s[0] <= '9' {
				i, err := strconv.Atoi(s)
				if err != nil || i < 1 || i > maxListIndex {
					return nil, fmt.Errorf("%w: list index %.16q in key %.64q", errBadQuery, s, k)
				}
			}
			if n.kids == nil {
				n.kids = make(map[string]*qnode)
			}
			c := n.kids[s]
			if c == nil {
				c = &qnode{}
				n.kids[s] = c
			}
			n = c
		}
		n.val, n.set = vs[0], true
	}
	return root, nil
}

// child returns the named child or nil. Lookups are exact but fall back
// to a case-insensitive match (the EC2 Query protocol is documented
// case-sensitive; older tools vary).
func (n *qnode) child(name string) *qnode {
	if n == nil || n.kids == nil {
		return nil
	}
	if c, ok := n.kids[name]; ok {
		return c
	}
	for k, c := range n.kids {
		if strings.EqualFold(k, name) {
			return c
		}
	}
	return nil
}

// path walks dotted names: n.path("Ebs", "VolumeSize").
func (n *qnode) path(names ...string) *qnode {
	for _, s := range names {
		n = n.child(s)
	}
	return n
}

// str returns the value at a dotted path, "" if absent.
func (n *qnode) str(names ...string) string {
	c := n.path(names...)
	if c == nil {
		return ""
	}
	return c.val
}

// has reports whether a value was given at the path.
func (n *qnode) has(names ...string) bool {
	c := n.path(names...)
	return c != nil && (c.set || len(c.kids) > 0)
}

// list returns the elements of a list: the numbered children of the
// node at the path, in index order. Both the EC2 flavour (Name.1) and
// the awsquery flavour (Name.member.1) are accepted.
func (n *qnode) list(names ...string) []*qnode {
	c := n.path(names...)
	if c == nil {
		return nil
	}
	if m := c.kids["member"]; m != nil {
		c = m
	}
	type iv struct {
		i int
		n *qnode
	}
	var items []iv
	for k, v := range c.kids {
		i, err := strconv.Atoi(k)
		if err != nil {
			continue
		}
		items = append(items, iv{i, v})
	}
	sort.Slice(items, func(a, b int) bool { return items[a].i < items[b].i })
	out := make([]*qnode, len(items))
	for i, it := range items {
		out[i] = it.n
	}
	return out
}

// strs returns the string values of a list.
func (n *qnode) strs(names ...string) []string {
	var out []string
	for _, c := range n.list(names...) {
		out = append(out, c.val)
	}
	return out
}

// boolean parses a boolean at the path: ok is false when absent.
func (n *qnode) boolean(names ...string) (v, ok bool, err error) {
	s := n.str(names...)
	if s == "" {
		return false, false, nil
	}
	b, err := strconv.ParseBool(s)
	if err != nil {
		return false, false, fmt.Errorf("invalid boolean %q for %s", s, strings.Join(names, "."))
	}
	return b, true, nil
}

// integer parses an int at the path: ok is false when absent.
func (n *qnode) integer(names ...string) (v int64, ok bool, err error) {
	s := n.str(names...)
	if s == "" {
		return 0, false, nil
	}
	i, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, false, fmt.Errorf("invalid integer %q for %s", s, strings.Join(names, "."))
	}
	return i, true, nil
}

// float parses a float64 at the path.
func (n *qnode) float(names ...string) (v float64, ok bool, err error) {
	s := n.str(names...)
	if s == "" {
		return 0, false, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, false, fmt.Errorf("invalid number %q for %s", s, strings.Join(names, "."))
	}
	return f, true, nil
}
