package ec2test

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// Instance profile associations (AssociateIamInstanceProfile,
// DisassociateIamInstanceProfile, DescribeIamInstanceProfileAssociations).
// An instance has at most one; its id is derived from the instance and
// the profile, so a re-association gets a new one.

type xProfileAssoc struct {
	AssociationID string   `xml:"associationId"`
	InstanceID    string   `xml:"instanceId"`
	Profile       xProfile `xml:"iamInstanceProfile"`
	State         string   `xml:"state"`
}

func assocID(in *instance) string {
	h := sha256.Sum256([]byte(in.id + "|" + in.profileARN + "|" + in.profileID))
	return "iip-assoc-" + hex.EncodeToString(h[:])[:17]
}

func assocOf(in *instance, state string) xProfileAssoc {
	return xProfileAssoc{AssociationID: assocID(in), InstanceID: in.id, Profile: xProfile{Arn: in.profileARN, ID: in.profileID}, State: state}
}

func (st *state) describeIamInstanceProfileAssociations(q *qnode) (any, error) {
	ids := q.strs("AssociationId")
	return describeSet(st, q, "iamInstanceProfileAssociationSet", describeSpec[*instance, xProfileAssoc]{
		lo: 5, hi: 1000, named: len(ids) > 0,
		all: st.visibleInstances,
		keep: func(in *instance) bool {
			if in.profileARN == "" || in.state == "terminated" {
				return false
			}
			if len(ids) == 0 {
				return true
			}
			for _, id := range ids {
				if id == assocID(in) {
					return true
				}
			}
			return false
		},
		id: func(in *instance) string { return in.id },
		attr: func(in *instance) attrFunc {
			return func(name string) ([]string, bool) {
				switch name {
				case "instance-id":
					return one(in.id), true
				case "state":
					return one("associated"), true
				}
				return nil, false
			}
		},
		item: func(in *instance) xProfileAssoc { return assocOf(in, "associated") },
	})
}

func (st *state) disassociateIamInstanceProfile(q *qnode) (any, error) {
	id := q.str("AssociationId")
	if id == "" {
		return nil, errf("MissingParameter", "The request must contain the parameter AssociationId")
	}
	for _, in := range st.visibleInstances() {
		if in.profileARN != "" && in.state != "terminated" && assocID(in) == id {
			if err := dryRun(q); err != nil {
				return nil, err
			}
			x := assocOf(in, "disassociating")
			in.profileARN, in.profileID = "", ""
			return struct {
				Assoc xProfileAssoc `xml:"iamInstanceProfileAssociation"`
			}{x}, nil
		}
	}
	return nil, errf("InvalidAssociationID.NotFound", "An association with ID %s does not exist.", id)
}

func (st *state) associateIamInstanceProfile(q *qnode) (any, error) {
	id := q.str("InstanceId")
	if id == "" {
		return nil, errf("MissingParameter", "The request must contain the parameter InstanceId")
	}
	arn, name := q.str("IamInstanceProfile", "Arn"), q.str("IamInstanceProfile", "Name")
	if arn == "" && name != "" {
		arn = "arn:aws:iam::" + AccountID + ":instance-profile/" + name
	}
	if arn == "" {
		return nil, errf("MissingParameter", "The request must contain the parameter IamInstanceProfile")
	}
	if !strings.HasPrefix(arn, "arn:aws:iam::") || !strings.Contains(arn, ":instance-profile/") {
		return nil, errf("InvalidParameterValue", "Value (%s) for parameter iamInstanceProfile.arn is invalid.", arn)
	}
	ins, err := st.lookupInstances([]string{id})
	if err != nil {
		return nil, err
	}
	in := ins[0]
	if in.state == "terminated" || in.state == "shutting-down" {
		return nil, errf("IncorrectInstanceState", "The instance '%s' is not in a valid state for this operation.", in.id)
	}
	if in.profileARN != "" {
		return nil, errf("IncorrectState", "There is an existing association for instance %s", in.id)
	}
	if err := dryRun(q); err != nil {
		return nil, err
	}
	in.profileARN = arn
	in.profileID = "AIPA" + strings.ToUpper(st.newID("x")[2:19])
	return struct {
		Assoc xProfileAssoc `xml:"iamInstanceProfileAssociation"`
	}{assocOf(in, "associating")}, nil
}
