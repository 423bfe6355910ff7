package ec2

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
)

// TagInstanceRole is the IAM role tag (value "allowed") that the shipped
// iam-policy.json requires before abusekit may put or delete an inline
// policy on a role (the session revocation) or pass it back to an
// instance (Undo re-associating the original instance profile):
// iam:PutRolePolicy on any role would let whoever holds abusekit's
// credentials grant any role, its own included, anything, and IAM has no
// condition that ties a role to the instance being contained. Tag the
// roles of your instance profiles ahead of an incident:
//
//	aws iam tag-role --role-name web --tags Key=abusekit:instance-role,Value=allowed
//
// On an untagged role the revocation is refused (AccessDenied), reported
// as an error once containment is done, and left to the operator.
const TagInstanceRole = "abusekit:instance-role"

// RolePolicy is an inline policy Contain put on a role.
type RolePolicy struct {
	Role   string `json:"role"`
	Policy string `json:"policy"`
}

// revokePolicyName is the inline policy that revokes a role's sessions
// for one incident.
func revokePolicyName(incident string) string {
	return "abusekit-revoke-older-sessions-" + short(incident)
}

// revokeDocument denies every action to sessions of the role issued
// before t: AWS's documented way to revoke a role's active sessions.
func revokeDocument(t time.Time) string {
	doc := map[string]any{
		"Version": "2012-10-17",
		"Statement": []map[string]any{{
			"Effect": "Deny", "Action": []string{"*"}, "Resource": []string{"*"},
			"Condition": map[string]any{"DateLessThan": map[string]string{"aws:TokenIssueTime": t.UTC().Format(time.RFC3339)}},
		}},
	}
	b, _ := json.Marshal(doc)
	return string(b)
}

// profileName is the name in an instance profile ARN
// (arn:aws:iam::123456789012:instance-profile/path/name).
func profileName(arn string) string {
	_, rest, ok := strings.Cut(arn, ":instance-profile/")
	if !ok {
		return ""
	}
	if i := strings.LastIndex(rest, "/"); i >= 0 {
		rest = rest[i+1:]
	}
	return rest
}

// profileRoles reads the roles of an instance profile.
func profileRoles(ctx context.Context, c *Clients, arn string) ([]string, error) {
	name := profileName(arn)
	if name == "" {
		return nil, &StepError{Step: stepContain, Resource: arn, Err: errf("%w: not an instance profile ARN", ErrInvalidInput)}
	}
	out, err := c.GetInstanceProfile.GetInstanceProfile(ctx, &iam.GetInstanceProfileInput{InstanceProfileName: aws.String(name)})
	if err != nil {
		return nil, stepErr(stepContain, "GetInstanceProfile", name, err)
	}
	var roles []string
	if out.InstanceProfile != nil {
		for _, r := range out.InstanceProfile.Roles {
			roles = append(roles, aws.ToString(r.RoleName))
		}
	}
	return roles, nil
}

// revokeSessions puts the revocation policy on each of ic's roles.
func revokeSessions(ctx context.Context, c *Clients, inc Incident, ic InstanceContain, undo *ContainUndo, now time.Time) error {
	var errs []error
	for _, role := range ic.RevokeRoleSessions {
		name := revokePolicyName(inc.ID)
		if _, err := c.PutRolePolicy.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String(role), PolicyName: aws.String(name),
			PolicyDocument: aws.String(revokeDocument(now))}); err != nil {
			errs = append(errs, stepErr(stepContain, "PutRolePolicy", role, err))
			continue
		}
		undo.update(ic.InstanceID, func(u *InstanceUndo) { u.RolePolicies = append(u.RolePolicies, RolePolicy{Role: role, Policy: name}) })
	}
	return errors.Join(errs...)
}

// removeRolePolicies deletes the policies Contain put (gone already is fine).
func removeRolePolicies(ctx context.Context, c *Clients, iu InstanceUndo) error {
	if len(iu.RolePolicies) == 0 {
		return nil
	}
	if err := need(stepUndo, c.DeleteRolePolicy); err != nil {
		return err
	}
	for _, rp := range iu.RolePolicies {
		if _, err := c.DeleteRolePolicy.DeleteRolePolicy(ctx, &iam.DeleteRolePolicyInput{RoleName: aws.String(rp.Role), PolicyName: aws.String(rp.Policy)}); err != nil && errCode(err) != "NoSuchEntity" {
			return stepErr(stepUndo, "DeleteRolePolicy", rp.Role, err)
		}
	}
	return nil
}
