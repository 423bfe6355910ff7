package ec2test

import (
	"encoding/base64"
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"time"
)

// ordered is a map that remembers insertion order, for stable pagination.
type ordered[T any] struct {
	ids []string
	m   map[string]T
}

func (o *ordered[T]) put(id string, v T) {
	if o.m == nil {
		o.m = make(map[string]T)
	}
	if _, ok := o.m[id]; !ok {
		o.ids = append(o.ids, id)
	}
	o.m[id] = v
}

func (o *ordered[T]) get(id string) (T, bool) {
	v, ok := o.m[id]
	return v, ok
}

func (o *ordered[T]) del(id string) {
	delete(o.m, id)
	if len(o.ids) > 64 && len(o.ids) > 2*len(o.m) {
		ids := o.ids[:0]
		for _, k := range o.ids {
			if _, ok := o.m[k]; ok {
				ids = append(ids, k)
			}
		}
		o.ids = ids
	}
}

func (o *ordered[T]) all() []T {
	out := make([]T, 0, len(o.m))
	for _, id := range o.ids {
		if v, ok := o.m[id]; ok {
			out = append(out, v)
		}
	}
	return out
}

func (o *ordered[T]) len() int { return len(o.m) }

type vpc struct {
	id, cidr  string
	isDefault bool
	ipv6      string // the VPC's IPv6 /56, if any
}

type subnet struct {
	id, vpcID, az, cidr string
	defaultForAz        bool
	mapPublic           bool
	next                netip.Addr
	prefix              netip.Prefix
	ipv6                netip.Prefix // the subnet's IPv6 /64, if any
	nextV6              netip.Addr
}

type sgRule struct {
	id         string
	groupID    string
	egress     bool
	protocol   string // "-1", "tcp", "udp", "icmp", "icmpv6" or a number
	from, to   int32
	cidr4      string
	cidr6      string
	refGroup   string
	prefixList string
	desc       string
}

type securityGroup struct {
	id, name, desc, vpcID string
	rules                 []*sgRule
	visibleAt             time.Time
}

type eniAttachment struct {
	id           string
	instanceID   string
	deviceIndex  int32
	status       string
	deleteOnTerm bool
	time         time.Time
}

type eni struct {
	id, subnetID, vpcID, az string
	privateIP, privateDNS   string
	publicIP, publicDNS     string
	mac                     string
	groups                  []string
	ipv6                    []string
	desc                    string
	status                  string
	attach                  *eniAttachment
	sourceDestCheck         bool
	visibleAt               time.Time
}

type bdm struct {
	device       string
	volumeID     string
	deleteOnTerm bool
	attachTime   time.Time
}

type instance struct {
	id, imageID, instanceType, keyName string
	subnetID, vpcID, az                string
	state                              string
	stateAt                            time.Time // when a transitional state ends
	stateReason                        string
	launchTime                         time.Time
	runningSince                       time.Time
	reservationID                      string
	enis                               []string
	bdms                               []bdm
	rootDevice                         string
	profileARN, profileID              string
	disableTerm, disableStop           bool
	shutdownBehavior                   string
	clientToken                        string
	architecture                       string
	ebsOptimized                       bool
	monitoring                         string
	ltID, ltName, ltVersion            string
	userData                           string
	launchIndex                        int
	md                                 metadataOptions
	visibleAt                          time.Time
	terminatedAt                       time.Time
	// lifecycle is "spot" for a Spot Instance ("" on-demand);
	// instanceStore marks an instance-store root device (no EBS root).
	lifecycle     string
	instanceStore bool
}

type volAttach struct {
	instanceID   string
	device       string
	state        string
	time         time.Time
	deleteOnTerm bool
}

type volume struct {
	id, az, volType, snapshotID string
	size                        int32
	iops, throughput            int32
	encrypted                   bool
	state                       string
	createTime                  time.Time
	attach                      *volAttach
	visibleAt                   time.Time
}

type snapshot struct {
	id, volumeID, desc  string
	ownerID, ownerAlias string
	volumeSize          int32
	state               string
	startTime, doneAt   time.Time
	encrypted           bool
	fail                bool
	public              bool
	visibleAt           time.Time
}

type imageBDM struct {
	device       string
	snapshotID   string
	size         int32
	volType      string
	deleteOnTerm bool
	noDevice     bool
}

type image struct {
	id, name, desc      string
	ownerID, ownerAlias string
	public              bool
	state               string
	availableAt         time.Time
	creationDate        time.Time
	arch, rootDevice    string
	bdms                []imageBDM
	location            string
	sourceInstanceID    string
	visibleAt           time.Time
}

// metadataOptions is an instance's IMDS configuration.
type metadataOptions struct {
	tokens, endpoint, ipv6, tags string
	hopLimit                     int64
}

// parseMetadataOptions applies MetadataOptions.* over base.
func parseMetadataOptions(n *qnode, base metadataOptions) (metadataOptions, error) {
	if n == nil {
		return base, nil
	}
	md := base
	check := func(field, v string, allowed ...string) (string, error) {
		if v == "" {
			return "", nil
		}
		for _, a := range allowed {
			if v == a {
				return v, nil
			}
		}
		return "", errf("InvalidParameterValue", "Value (%s) for parameter %s is invalid.", v, field)
	}
	for _, f := range []struct {
		key     string
		dst     *string
		allowed []string
	}{
		{"HttpTokens", &md.tokens, []string{"optional", "required"}},
		{"HttpEndpoint", &md.endpoint, []string{"enabled", "disabled"}},
		{"HttpProtocolIpv6", &md.ipv6, []string{"enabled", "disabled"}},
		{"InstanceMetadataTags", &md.tags, []string{"enabled", "disabled"}},
	} {
		v, err := check(f.key, n.str(f.key), f.allowed...)
		if err != nil {
			return md, err
		}
		if v != "" {
			*f.dst = v
		}
	}
	if h, ok, err := n.integer("HttpPutResponseHopLimit"); err != nil || (ok && (h < 1 || h > 64)) {
		return md, errf("InvalidParameterValue", "HttpPutResponseHopLimit must be between 1 and 64")
	} else if ok {
		md.hopLimit = h
	}
	return md, nil
}

type ltData struct {
	md                             *qnode
	imageID, instanceType, keyName string
	sgIDs, sgNames                 []string
	profileARN, profileName        string
	subnetID                       string
	userData                       string
	disableTerm, disableStop       bool
	tagSpecs                       []tagSpec
	bdms                           []bdmSpec
}

type ltVersion struct {
	num        int64
	desc       string
	data       ltData
	createTime time.Time
}

type launchTemplate struct {
	id, name       string
	defaultVersion int64
	versions       []*ltVersion
	createTime     time.Time
}

type tagSpec struct {
	resourceType string
	tags         [][2]string
}

type bdmSpec struct {
	device       string
	noDevice     bool
	snapshotID   string
	size         int32
	volType      string
	iops         int32
	deleteOnTerm *bool
	encrypted    bool
}

type idemEntry struct {
	fingerprint string
	result      any
}

// state is the account. Every field is guarded by Server.mu.
type state struct {
	srv    *Server
	now    time.Time
	faults Faults
	region string
	azs    []string

	vpcs      ordered[*vpc]
	subnets   ordered[*subnet]
	sgs       ordered[*securityGroup]
	instances ordered[*instance]
	volumes   ordered[*volume]
	snapshots ordered[*snapshot]
	images    ordered[*image]
	enis      ordered[*eni]
	lts       ordered[*launchTemplate]
	alarms    ordered[*alarm]
	nacls     map[string]*networkACL // by VPC id: each VPC's default network ACL
	rtbs      map[string]*routeTable // by id; each VPC's main table made on first use
	// rolePolicies holds IAM inline role policies: role -> name -> document.
	rolePolicies map[string]map[string]string
	asgs         ordered[*asg]
	tgs          ordered[*targetGroup]

	tags   map[string]map[string]string
	rules  map[string]*sgRule
	idem   map[string]idemEntry
	moving map[string]struct{} // ids with a pending state transition

	defaultVPC string
}

func newState(s *Server) *state {
	st := &state{
		srv:    s,
		now:    s.now(),
		region: s.opts.region,
		tags:   make(map[string]map[string]string),
		rules:  make(map[string]*sgRule),
		idem:   make(map[string]idemEntry),
		moving: make(map[string]struct{}),
	}
	st.azs = []string{st.region + "a", st.region + "b", st.region + "c"}
	st.seedAccount()
	return st
}

// newID returns prefix-xxxxxxxxxxxxxxxxx (17 hex digits), as EC2 does.
func (st *state) newID(prefix string) string {
	const hex = "0123456789abcdef"
	for {
		b := make([]byte, 0, len(prefix)+18)
		b = append(b, prefix...)
		b = append(b, '-')
		for range 17 {
			b = append(b, hex[st.srv.rng.UintN(16)])
		}
		id := string(b)
		if !st.idTaken(id) {
			return id
		}
	}
}

func (st *state) idTaken(id string) bool {
	if _, ok := st.tags[id]; ok {
		return true
	}
	_, a := st.instances.get(id)
	_, b := st.volumes.get(id)
	_, c := st.snapshots.get(id)
	_, d := st.sgs.get(id)
	_, e := st.enis.get(id)
	_, f := st.images.get(id)
	_, g := st.rules[id]
	return a || b || c || d || e || f || g
}

// visibleAt is when a resource created now becomes visible, given the
// eventual-consistency fault.
func (st *state) visibleAt() time.Time {
	if st.faults.EventualConsistency <= 0 {
		return time.Time{}
	}
	return st.now.Add(st.faults.EventualConsistency)
}

func (st *state) visible(at time.Time) bool { return at.IsZero() || !st.now.Before(at) }

func (st *state) seedAccount() {
	v := &vpc{id: st.newID("vpc"), cidr: "172.31.0.0/16", isDefault: true}
	st.vpcs.put(v.id, v)
	st.defaultVPC = v.id
	for i, az := range st.azs {
		p := netip.MustParsePrefix(fmt.Sprintf("172.31.%d.0/20", i*16))
		sn := &subnet{id: st.newID("subnet"), vpcID: v.id, az: az, cidr: p.String(),
			defaultForAz: true, mapPublic: true, prefix: p, next: p.Addr().Next().Next().Next().Next()}
		st.subnets.put(sn.id, sn)
	}
	st.newSecurityGroup("default", "default VPC security group", v.id, true)

	// Public images, each backed by a root snapshot owned by its publisher.
	seedImage := func(name, desc, owner, alias, arch string) {
		sn := &snapshot{id: st.newID("snap"), volumeID: "vol-ffffffff", ownerID: owner, ownerAlias: alias,
			volumeSize: 8, state: "completed", startTime: st.now.Add(-240 * time.Hour), doneAt: st.now.Add(-240 * time.Hour),
			desc: "Root snapshot of " + name, public: true}
		st.snapshots.put(sn.id, sn)
		im := &image{id: st.newID("ami"), name: name, desc: desc, ownerID: owner, ownerAlias: alias, public: true,
			state: "available", creationDate: st.now.Add(-240 * time.Hour), arch: arch, rootDevice: "/dev/xvda",
			bdms:     []imageBDM{{device: "/dev/xvda", snapshotID: sn.id, size: 8, volType: "gp3", deleteOnTerm: true}},
			location: alias + "/" + name}
		if strings.HasPrefix(name, "ubuntu") || strings.HasPrefix(name, "debian") {
			im.rootDevice = "/dev/sda1"
			im.bdms[0].device = "/dev/sda1"
		}
		st.images.put(im.id, im)
	}
	seedImage("al2023-ami-2023.6.20250107.0-kernel-6.1-x86_64", "Amazon Linux 2023 AMI 2023.6.20250107.0 x86_64 HVM kernel-6.1", "137112412989", "amazon", "x86_64")
	seedImage("ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-20250115", "Canonical, Ubuntu, 24.04, amd64 noble image", "099720109477", "", "x86_64")
	seedImage("debian-12-amd64-20250112-1993", "Debian 12 (20250112-1993)", "136693071363", "", "x86_64")
}

// tick applies the state transitions that are due.
func (st *state) tick(now time.Time) {
	st.now = now
	st.faults = st.srv.CurrentFaults()
	for id := range st.moving {
		switch {
		case strings.HasPrefix(id, "i-"):
			in, ok := st.instances.get(id)
			if !ok {
				delete(st.moving, id)
				continue
			}
			if now.Before(in.stateAt) {
				continue
			}
			delete(st.moving, id)
			switch in.state {
			case "pending":
				in.state, in.runningSince = "running", in.stateAt
			case "stopping":
				in.state = "stopped"
				for _, eid := range in.enis {
					if e, ok := st.enis.get(eid); ok && e.publicIP != "" {
						e.publicIP, e.publicDNS = "", ""
					}
				}
			case "shutting-down":
				st.finishTermination(in)
			}
		case strings.HasPrefix(id, "snap-"):
			sn, ok := st.snapshots.get(id)
			if !ok {
				delete(st.moving, id)
				continue
			}
			if now.Before(sn.doneAt) {
				continue
			}
			delete(st.moving, id)
			if sn.fail {
				sn.state = "error"
			} else {
				sn.state = "completed"
			}
		case strings.HasPrefix(id, "ami-"):
			im, ok := st.images.get(id)
			if !ok {
				delete(st.moving, id)
				continue
			}
			if now.Before(im.availableAt) {
				continue
			}
			delete(st.moving, id)
			im.state = "available"
		case strings.HasPrefix(id, "vol-"):
			if v, ok := st.volumes.get(id); ok && v.state == "creating" {
				v.state = "available"
			}
			delete(st.moving, id)
		default:
			delete(st.moving, id)
		}
	}
}

func (st *state) finishTermination(in *instance) {
	in.state = "terminated"
	in.terminatedAt = in.stateAt
	for _, b := range in.bdms {
		v, ok := st.volumes.get(b.volumeID)
		if !ok {
			continue
		}
		v.attach = nil
		if b.deleteOnTerm {
			st.volumes.del(v.id)
			delete(st.tags, v.id)
		} else {
			v.state = "available"
		}
	}
	in.bdms = nil
	for _, eid := range in.enis {
		e, ok := st.enis.get(eid)
		if !ok {
			continue
		}
		if e.attach != nil && e.attach.deleteOnTerm {
			st.enis.del(eid)
			delete(st.tags, eid)
			continue
		}
		e.attach, e.status, e.publicIP, e.publicDNS = nil, "available", "", ""
	}
	in.enis = nil
	for _, g := range st.asgs.all() {
		g.removeInstance(in.id)
	}
	for _, tg := range st.tgs.all() {
		tg.remove(in.id)
	}
}

// setTags merges tags onto a resource.
func (st *state) setTags(id string, kv [][2]string) {
	m := st.tags[id]
	if m == nil {
		m = make(map[string]string)
		st.tags[id] = m
	}
	for _, t := range kv {
		m[t[0]] = t[1]
	}
}

func (st *state) tagSet(id string) []xmlTag {
	m := st.tags[id]
	if len(m) == 0 {
		return nil
	}
	out := make([]xmlTag, 0, len(m))
	for k, v := range m {
		out = append(out, xmlTag{Key: k, Value: v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

func (st *state) newSecurityGroup(name, desc, vpcID string, isDefault bool) *securityGroup {
	g := &securityGroup{id: st.newID("sg"), name: name, desc: desc, vpcID: vpcID}
	if isDefault {
		st.addRule(g, &sgRule{protocol: "-1", from: -1, to: -1, refGroup: g.id})
	}
	st.addRule(g, &sgRule{egress: true, protocol: "-1", from: -1, to: -1, cidr4: "0.0.0.0/0"})
	st.sgs.put(g.id, g)
	return g
}

func (st *state) addRule(g *securityGroup, r *sgRule) {
	r.id = st.newID("sgr")
	r.groupID = g.id
	g.rules = append(g.rules, r)
	st.rules[r.id] = r
}

// allocIP hands out the next private address of a subnet.
func (st *state) allocIP(sn *subnet) string {
	a := sn.next
	sn.next = a.Next()
	if !sn.prefix.Contains(sn.next) {
		sn.next = sn.prefix.Addr().Next().Next().Next().Next()
	}
	return a.String()
}

func (st *state) publicIP() string {
	// 198.51.100.0/24 and 203.0.113.0/24 are documentation ranges: data only.
	n := st.srv.rng.UintN(2 * 254)
	if n < 254 {
		return "198.51.100." + strconv.Itoa(int(n)+1)
	}
	return "203.0.113." + strconv.Itoa(int(n-254)+1)
}

func (st *state) mac() string {
	b := make([]string, 6)
	b[0] = "0e"
	for i := 1; i < 6; i++ {
		b[i] = fmt.Sprintf("%02x", st.srv.rng.UintN(256))
	}
	return strings.Join(b, ":")
}

func (st *state) privateDNS(ip string) string {
	h := "ip-" + strings.ReplaceAll(ip, ".", "-")
	if st.region == "us-east-1" {
		return h + ".ec2.internal"
	}
	return h + "." + st.region + ".compute.internal"
}

func (st *state) publicDNS(ip string) string {
	if ip == "" {
		return ""
	}
	h := "ec2-" + strings.ReplaceAll(ip, ".", "-")
	if st.region == "us-east-1" {
		return h + ".compute-1.amazonaws.com"
	}
	return h + "." + st.region + ".compute.amazonaws.com"
}

// --- pagination ---

func pageToken(off int) string {
	return base64.RawURLEncoding.EncodeToString([]byte("ec2test:" + strconv.Itoa(off)))
}

// page returns the bounds of one page of n items. max <= 0 means all.
func page(n int, max int64, token string) (start, end int, next string, err error) {
	if token != "" {
		b, derr := base64.RawURLEncoding.DecodeString(token)
		s, ok := strings.CutPrefix(string(b), "ec2test:")
		off, aerr := strconv.Atoi(s)
		if derr != nil || !ok || aerr != nil || off < 0 {
			return 0, 0, "", errf("InvalidParameterValue", "Invalid value '%s' for NextToken", token)
		}
		start = off
	}
	if start > n {
		start = n
	}
	end = n
	if max > 0 && int64(end-start) > max {
		end = start + int(max)
		next = pageToken(end)
	}
	return start, end, next, nil
}

// maxResults reads and validates MaxResults against [lo, hi].
func maxResults(q *qnode, lo, hi int64) (int64, error) {
	v, ok, err := q.integer("MaxResults")
	if err != nil {
		return 0, errf("InvalidParameterValue", "%v", err)
	}
	if !ok {
		return 0, nil
	}
	if v < lo || v > hi {
		return 0, errf("InvalidParameterValue", "Value ( %d ) for parameter maxResults is invalid. Expecting a value between %d and %d.", v, lo, hi)
	}
	return v, nil
}

// --- filters ---

type filter struct {
	name   string
	values []string
}

func parseFilters(q *qnode) ([]filter, error) {
	var out []filter
	for _, f := range q.list("Filter") {
		name := f.str("Name")
		if name == "" {
			return nil, errf("InvalidParameterValue", "The filter name must not be empty")
		}
		out = append(out, filter{name: name, values: f.strs("Value")})
	}
	return out, nil
}

// attrFunc returns the values a resource has for a filter name; ok is
// false when the resource type knows no such filter.
type attrFunc func(name string) (vals []string, ok bool)

// checkFilters rejects filter names a resource type does not know,
// before any resource is looked at (EC2 validates them on empty results too).
func checkFilters(filters []filter, attr attrFunc) error {
	for _, f := range filters {
		if strings.HasPrefix(f.name, "tag:") || f.name == "tag-key" || f.name == "tag-value" {
			continue
		}
		if _, ok := attr(f.name); !ok {
			return errf("InvalidParameterValue", "The filter '%s' is invalid", f.name)
		}
	}
	return nil
}

// match reports whether a resource passes every filter (AND across
// filters, OR across a filter's values, * and ? wildcards).
func (st *state) match(filters []filter, id string, attr attrFunc) (bool, error) {
	for _, f := range filters {
		var vals []string
		switch {
		case strings.HasPrefix(f.name, "tag:"):
			if v, ok := st.tags[id][f.name[4:]]; ok {
				vals = []string{v}
			}
		case f.name == "tag-key":
			for k := range st.tags[id] {
				vals = append(vals, k)
			}
		case f.name == "tag-value":
			for _, v := range st.tags[id] {
				vals = append(vals, v)
			}
		default:
			var ok bool
			vals, ok = attr(f.name)
			if !ok {
				return false, errf("InvalidParameterValue", "The filter '%s' is invalid", f.name)
			}
		}
		hit := false
		for _, want := range f.values {
			for _, have := range vals {
				if glob(want, have) {
					hit = true
					break
				}
			}
			if hit {
				break
			}
		}
		if !hit {
			return false, nil
		}
	}
	return true, nil
}

// glob matches EC2 filter wildcards: * any run, ? one character, \ escapes.
func glob(pat, s string) bool {
	if !strings.ContainsAny(pat, `*?\`) {
		return pat == s
	}
	p, t := []rune(pat), []rune(s)
	var pi, ti, star, mark = 0, 0, -1, 0
	for ti < len(t) {
		switch {
		case pi < len(p) && p[pi] == '\\' && pi+1 < len(p) && p[pi+1] == t[ti]:
			pi += 2
			ti++
		case pi < len(p) && (p[pi] == '?' || (p[pi] != '*' && p[pi] != '\\' && p[pi] == t[ti])):
			pi++
			ti++
		case pi < len(p) && p[pi] == '*':
			star, mark = pi, ti
			pi++
		case star >= 0:
			pi = star + 1
			mark++
			ti = mark
		default:
			return false
		}
	}
	for pi < len(p) && p[pi] == '*' {
		pi++
	}
	return pi == len(p)
}

func one(s string) []string {
	if s == "" {
		return nil
	}
	return []string{s}
}

// --- shared request helpers ---

func dryRun(q *qnode) error {
	if v, _, _ := q.boolean("DryRun"); v {
		return &apiError{status: 412, code: "DryRunOperation", msg: "Request would have succeeded, but DryRun flag is set."}
	}
	return nil
}

// parseTagSpecs reads TagSpecification.N.{ResourceType,Tag.M.{Key,Value}}.
func parseTagSpecs(q *qnode, key string) ([]tagSpec, error) {
	var out []tagSpec
	for _, n := range q.list(key) {
		ts := tagSpec{resourceType: n.str("ResourceType")}
		if ts.resourceType == "" {
			return nil, errf("InvalidParameterValue", "Tag specification resource type must have a value")
		}
		for _, t := range n.list("Tag") {
			k := t.str("Key")
			if err := checkTagKey(k); err != nil {
				return nil, err
			}
			ts.tags = append(ts.tags, [2]string{k, t.str("Value")})
		}
		out = append(out, ts)
	}
	return out, nil
}

func checkTagKey(k string) error {
	switch {
	case k == "":
		return errf("InvalidParameterValue", "Tag key must not be empty")
	case len(k) > 128:
		return errf("InvalidParameterValue", "Tag key exceeds the maximum length of 128 characters")
	case strings.HasPrefix(strings.ToLower(k), "aws:"):
		return errf("InvalidParameterValue", "Tag keys starting with 'aws:' are reserved for internal use")
	}
	return nil
}

func tagsFor(specs []tagSpec, resourceType string) [][2]string {
	var out [][2]string
	for _, s := range specs {
		if s.resourceType == resourceType {
			out = append(out, s.tags...)
		}
	}
	return out
}

// fingerprint renders a request's parameters, less the client token and
// protocol fields, for idempotency comparisons.
func fingerprint(q *qnode) string {
	var parts []string
	var walk func(prefix string, n *qnode)
	walk = func(prefix string, n *qnode) {
		if n.set {
			parts = append(parts, prefix+"="+n.val)
		}
		for k, c := range n.kids {
			p := k
			if prefix != "" {
				p = prefix + "." + k
			}
			switch p {
			case "ClientToken", "DryRun", "Action", "Version":
				continue
			}
			walk(p, c)
		}
	}
	walk("", q)
	sort.Strings(parts)
	return strings.Join(parts, "&")
}
