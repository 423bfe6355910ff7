package ec2test

import (
	"encoding/json"
	"net/url"
	"sort"
	"strings"
)

// IAM, as far as containment needs it: an instance profile named N holds
// the role named N (the emulator's convention); inline role policies can
// be put, read and deleted (GetInstanceProfile, PutRolePolicy,
// GetRolePolicy, DeleteRolePolicy).

var iamActions = []string{"GetInstanceProfile", "PutRolePolicy", "GetRolePolicy", "DeleteRolePolicy"}

func (s *Server) iamHandler(action string) func(*qnode) (any, error) {
	st := s.st
	switch action {
	case "GetInstanceProfile":
		return st.getInstanceProfile
	case "PutRolePolicy":
		return st.putRolePolicy
	case "GetRolePolicy":
		return st.getRolePolicy
	case "DeleteRolePolicy":
		return st.deleteRolePolicy
	}
	return nil
}

func iamErr(status int, code, msg string) error {
	return &apiError{status: status, code: code, msg: msg}
}

func validIAMName(n string) bool {
	if n == "" || len(n) > 128 {
		return false
	}
	for _, r := range n {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("+=,.@_-", r)) {
			return false
		}
	}
	return true
}

type xIAMRole struct {
	RoleName string `xml:"RoleName"`
	RoleID   string `xml:"RoleId"`
	Arn      string `xml:"Arn"`
	Path     string `xml:"Path"`
}

func (st *state) getInstanceProfile(q *qnode) (any, error) {
	name := q.str("InstanceProfileName")
	if !validIAMName(name) {
		return nil, iamErr(400, "ValidationError", "The specified value for instanceProfileName is invalid.")
	}
	type xProfile struct {
		Name  string     `xml:"InstanceProfileName"`
		ID    string     `xml:"InstanceProfileId"`
		Arn   string     `xml:"Arn"`
		Path  string     `xml:"Path"`
		Roles []xIAMRole `xml:"Roles>member"`
	}
	return struct {
		P xProfile `xml:"InstanceProfile"`
	}{xProfile{Name: name, ID: "AIPA" + strings.ToUpper(name), Arn: "arn:aws:iam::" + AccountID + ":instance-profile/" + name, Path: "/",
		Roles: []xIAMRole{{RoleName: name, RoleID: "AROA" + strings.ToUpper(name), Arn: "arn:aws:iam::" + AccountID + ":role/" + name, Path: "/"}}}}, nil
}

func (st *state) rolePolicyParams(q *qnode) (role, name string, err error) {
	role, name = q.str("RoleName"), q.str("PolicyName")
	if !validIAMName(role) || !validIAMName(name) {
		return "", "", iamErr(400, "ValidationError", "The specified value for roleName or policyName is invalid.")
	}
	return role, name, nil
}

func (st *state) putRolePolicy(q *qnode) (any, error) {
	role, name, err := st.rolePolicyParams(q)
	if err != nil {
		return nil, err
	}
	doc := q.str("PolicyDocument")
	var v map[string]any
	if err := json.Unmarshal([]byte(doc), &v); err != nil || v["Statement"] == nil {
		return nil, iamErr(400, "MalformedPolicyDocument", "Syntax errors in policy.")
	}
	if st.rolePolicies == nil {
		st.rolePolicies = map[string]map[string]string{}
	}
	if st.rolePolicies[role] == nil {
		st.rolePolicies[role] = map[string]string{}
	}
	st.rolePolicies[role][name] = doc
	return struct{}{}, nil
}

func (st *state) getRolePolicy(q *qnode) (any, error) {
	role, name, err := st.rolePolicyParams(q)
	if err != nil {
		return nil, err
	}
	doc, ok := st.rolePolicies[role][name]
	if !ok {
		return nil, iamErr(404, "NoSuchEntity", "The role policy with name "+name+" cannot be found.")
	}
	return struct {
		RoleName       string `xml:"RoleName"`
		PolicyName     string `xml:"PolicyName"`
		PolicyDocument string `xml:"PolicyDocument"`
	}{role, name, url.QueryEscape(doc)}, nil
}

func (st *state) deleteRolePolicy(q *qnode) (any, error) {
	role, name, err := st.rolePolicyParams(q)
	if err != nil {
		return nil, err
	}
	if _, ok := st.rolePolicies[role][name]; !ok {
		return nil, iamErr(404, "NoSuchEntity", "The role policy with name "+name+" cannot be found.")
	}
	delete(st.rolePolicies[role], name)
	return struct{}{}, nil
}

// RolePolicies returns the inline policy names of a role, sorted.
func (s *Server) RolePolicies(role string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for n := range s.st.rolePolicies[role] {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}
