package ec2test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"sort"
	"strings"
	"sync"
)

// Route 53 Resolver DNS Firewall, as much as containment needs: rule
// groups (CreateFirewallRuleGroup, or AddFirewallRuleGroup to seed one)
// and their associations with VPCs (AssociateFirewallRuleGroup with
// CreatorRequestId idempotency, ListFirewallRuleGroupAssociations with the
// VpcId and FirewallRuleGroupId filters, DisassociateFirewallRuleGroup),
// in the awsJson1_1 protocol (X-Amz-Target: Route53Resolver.Op, errors
// with __type). Associations are COMPLETE at once; priorities are unique
// per VPC (100 to 9900), as in the service. Rules inside the groups are
// not modelled.

type fwRuleGroup struct{ ID, Name, Arn string }

type fwAssoc struct {
	ID, Arn, RuleGroupID, VpcID, Name, Status, CreatorRequestID string
	Priority                                                    int32
}

type resolverState struct {
	mu     sync.Mutex
	groups map[string]*fwRuleGroup
	assocs map[string]*fwAssoc
}

func (s *Server) resolver() *resolverState {
	s.resolverOnce.Do(func() {
		s.res = &resolverState{groups: map[string]*fwRuleGroup{}, assocs: map[string]*fwAssoc{}}
	})
	return s.res
}

func (s *Server) newResolverID(prefix string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.st.newID(prefix)
}

// AddFirewallRuleGroup seeds a DNS Firewall rule group and returns its id.
func (s *Server) AddFirewallRuleGroup(name string) string {
	r := s.resolver()
	id := s.newResolverID("rslvr-frg")
	r.mu.Lock()
	defer r.mu.Unlock()
	r.groups[id] = &fwRuleGroup{ID: id, Name: name, Arn: "arn:aws:route53resolver:" + s.opts.region + ":" + AccountID + ":firewall-rule-group/" + id}
	return id
}

// FirewallAssociations returns the rule group associations, by VPC id.
func (s *Server) FirewallAssociations() map[string][]string {
	r := s.resolver()
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string][]string{}
	for _, a := range r.assocs {
		out[a.VpcID] = append(out[a.VpcID], a.RuleGroupID)
	}
	for _, v := range out {
		sort.Strings(v)
	}
	return out
}

func (a *fwAssoc) json() map[string]any {
	return map[string]any{"Id": a.ID, "Arn": a.Arn, "FirewallRuleGroupId": a.RuleGroupID, "VpcId": a.VpcID, "Name": a.Name,
		"Priority": a.Priority, "MutationProtection": "DISABLED", "Status": a.Status, "StatusMessage": "", "CreatorRequestId": a.CreatorRequestID}
}

func (s *Server) serveResolver(w http.ResponseWriter, r *http.Request, body []byte) {
	op := strings.TrimPrefix(r.Header.Get("X-Amz-Target"), "Route53Resolver.")
	id := s.newRequestID()
	writeErr := func(e *apiError) {
		s.record("route53resolver", op, "awsjson", e.code)
		b, _ := json.Marshal(map[string]string{"__type": e.code, "message": e.msg})
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		w.Header().Set("X-Amzn-RequestId", id)
		w.WriteHeader(e.status)
		w.Write(b)
	}
	in := map[string]json.RawMessage{}
	if len(bytes.TrimSpace(body)) > 0 {
		if err := json.Unmarshal(body, &in); err != nil {
			writeErr(&apiError{status: 400, code: "SerializationException", msg: err.Error()})
			return
		}
	}
	var (
		out  any
		aerr *apiError
	)
	switch op {
	case "CreateFirewallRuleGroup":
		out, aerr = s.fwCreateRuleGroup(in)
	case "AssociateFirewallRuleGroup":
		out, aerr = s.fwAssociate(in)
	case "ListFirewallRuleGroupAssociations":
		out, aerr = s.fwList(in)
	case "DisassociateFirewallRuleGroup":
		out, aerr = s.fwDisassociate(in)
	default:
		aerr = &apiError{status: 400, code: "UnknownOperationException", msg: "Unknown operation " + op}
	}
	if aerr != nil {
		writeErr(aerr)
		return
	}
	s.record("route53resolver", op, "awsjson", "")
	b, _ := json.Marshal(out)
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-RequestId", id)
	w.WriteHeader(http.StatusOK)
	w.Write(b)
}

func fwValidation(msg string) *apiError {
	return &apiError{status: 400, code: "ValidationException", msg: msg}
}

func (s *Server) fwCreateRuleGroup(in map[string]json.RawMessage) (any, *apiError) {
	var name string
	if e := field(in, "Name", &name); e != nil {
		return nil, e
	}
	if name == "" {
		return nil, fwValidation("Name is required")
	}
	id := s.AddFirewallRuleGroup(name)
	r := s.resolver()
	r.mu.Lock()
	defer r.mu.Unlock()
	g := r.groups[id]
	return map[string]any{"FirewallRuleGroup": map[string]any{"Id": g.ID, "Arn": g.Arn, "Name": g.Name, "RuleCount": 0, "Status": "COMPLETE", "OwnerId": AccountID}}, nil
}

func (s *Server) fwAssociate(in map[string]json.RawMessage) (any, *apiError) {
	var (
		req, gid, vpcID, name string
		prio                  int32
	)
	for k, v := range map[string]any{"CreatorRequestId": &req, "FirewallRuleGroupId": &gid, "VpcId": &vpcID, "Name": &name, "Priority": &prio} {
		if e := field(in, k, v); e != nil {
			return nil, e
		}
	}
	if req == "" || gid == "" || vpcID == "" || name == "" {
		return nil, fwValidation("CreatorRequestId, FirewallRuleGroupId, VpcId and Name are required")
	}
	if prio < 100 || prio > 9900 {
		return nil, fwValidation("Priority must be between 100 and 9900")
	}
	s.mu.Lock()
	_, vpcOK := s.st.vpcs.get(vpcID)
	s.mu.Unlock()
	r := s.resolver()
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.groups[gid]; !ok {
		return nil, &apiError{status: 400, code: "ResourceNotFoundException", msg: "firewall rule group " + gid + " not found"}
	}
	if !vpcOK {
		return nil, &apiError{status: 400, code: "ResourceNotFoundException", msg: "VPC " + vpcID + " not found"}
	}
	for _, a := range r.assocs {
		if a.CreatorRequestID == req {
			if a.RuleGroupID != gid || a.VpcID != vpcID || a.Priority != prio {
				return nil, &apiError{status: 400, code: "ResourceExistsException", msg: "creator request id reused with other parameters"}
			}
			return map[string]any{"FirewallRuleGroupAssociation": a.json()}, nil
		}
	}
	for _, a := range r.assocs {
		if a.VpcID == vpcID && a.RuleGroupID == gid {
			return nil, &apiError{status: 400, code: "ConflictException", msg: "the rule group is already associated with " + vpcID}
		}
		if a.VpcID == vpcID && a.Priority == prio {
			return nil, &apiError{status: 400, code: "ConflictException", msg: "priority already used in " + vpcID}
		}
	}
	aid := s.newResolverID("rslvr-frgassoc")
	a := &fwAssoc{ID: aid, Arn: "arn:aws:route53resolver:" + s.opts.region + ":" + AccountID + ":firewall-rule-group-association/" + aid,
		RuleGroupID: gid, VpcID: vpcID, Name: name, Priority: prio, Status: "COMPLETE", CreatorRequestID: req}
	r.assocs[aid] = a
	return map[string]any{"FirewallRuleGroupAssociation": a.json()}, nil
}

func (s *Server) fwList(in map[string]json.RawMessage) (any, *apiError) {
	var vpcID, gid string
	if e := field(in, "VpcId", &vpcID); e != nil {
		return nil, e
	}
	if e := field(in, "FirewallRuleGroupId", &gid); e != nil {
		return nil, e
	}
	r := s.resolver()
	r.mu.Lock()
	defer r.mu.Unlock()
	list := []map[string]any{}
	ids := make([]string, 0, len(r.assocs))
	for id := range r.assocs {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		a := r.assocs[id]
		if (vpcID == "" || a.VpcID == vpcID) && (gid == "" || a.RuleGroupID == gid) {
			list = append(list, a.json())
		}
	}
	return map[string]any{"FirewallRuleGroupAssociations": list}, nil
}

func (s *Server) fwDisassociate(in map[string]json.RawMessage) (any, *apiError) {
	var aid string
	if e := field(in, "FirewallRuleGroupAssociationId", &aid); e != nil {
		return nil, e
	}
	r := s.resolver()
	r.mu.Lock()
	defer r.mu.Unlock()
	a, ok := r.assocs[aid]
	if !ok {
		return nil, &apiError{status: 400, code: "ResourceNotFoundException", msg: "association " + aid + " not found"}
	}
	delete(r.assocs, aid)
	out := a.json()
	out["Status"] = "DELETING"
	return map[string]any{"FirewallRuleGroupAssociation": out}, nil
}
