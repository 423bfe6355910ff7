package ec2

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// implicitPermissions lists, per operation the package calls, the IAM
// actions AWS documents that operation as also needing with the requests
// the package makes: a trace of API calls cannot show them.
var implicitPermissions = map[string][]string{
	// PutMetricAlarm with Tags is also authorized as TagResource.
	"cloudwatch:PutMetricAlarm": {"cloudwatch:TagResource"},
	// Tag-on-create (TagSpecifications) is authorized as ec2:CreateTags
	// with the ec2:CreateAction condition key set to the operation.
	"ec2:CreateSecurityGroup": {"ec2:CreateTags"},
	"ec2:CreateSnapshots":     {"ec2:CreateTags", "kms:CreateGrant", "kms:Decrypt", "kms:DescribeKey", "kms:GenerateDataKeyWithoutPlaintext", "kms:ReEncryptFrom", "kms:ReEncryptTo"},
	"ec2:RegisterImage":       {"ec2:CreateTags"},
	// RunInstances passes an instance profile's role (iam:PassRole) and
	// creates volumes from encrypted snapshots (KMS, through EC2).
	"ec2:RunInstances":                {"ec2:CreateTags", "iam:PassRole", "kms:CreateGrant", "kms:Decrypt", "kms:DescribeKey", "kms:GenerateDataKeyWithoutPlaintext", "kms:ReEncryptFrom", "kms:ReEncryptTo"},
	"ec2:AssociateIamInstanceProfile": {"iam:PassRole"},
}

// conditioned are the actions iam-policy.json may grant only under a
// condition or on named resources, never on everything.
var conditioned = map[string]string{
	"ec2:CreateTags":  "ec2:CreateAction (tag-on-create) or aws:TagKeys abusekit:* (the incident tags)",
	"ec2:DeleteTags":  "aws:TagKeys abusekit:*",
	"iam:PassRole":    "named roles and iam:PassedToService",
	"kms:":            "kms:ViaService ec2",
	"cloudwatch:Put":  "abusekit alarms",
	"cloudwatch:TagR": "abusekit alarms",
}

// calledOperations parses the package's non-test sources and returns the
// Clients fields called as c.<Field>.<Method>(…), checking that the method
// is the operation the field's iam tag names.
func calledOperations(t *testing.T) map[string]bool {
	t.Helper()
	typ := reflect.TypeFor[Clients]()
	fieldAction := map[string]string{}
	for i := range typ.NumField() {
		f := typ.Field(i)
		action := f.Tag.Get("iam")
		if action == "" {
			t.Fatalf("Clients.%s has no iam tag", f.Name)
		}
		if f.Type.Kind() != reflect.Interface || f.Type.NumMethod() != 1 {
			t.Fatalf("Clients.%s is not a one-method interface", f.Name)
		}
		if op := strings.SplitN(action, ":", 2)[1]; f.Type.Method(0).Name != op {
			t.Fatalf("Clients.%s: method %s but iam tag %s", f.Name, f.Type.Method(0).Name, action)
		}
		fieldAction[f.Name] = action
	}
	files, _ := filepath.Glob("*.go")
	fset := token.NewFileSet()
	used := map[string]bool{}
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(file, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			inner, ok := sel.X.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			if a, ok := fieldAction[inner.Sel.Name]; ok && strings.HasSuffix(a, ":"+sel.Sel.Name) {
				used[a] = true
			}
			return true
		})
		// Clients fields passed to SDK paginators and waiters
		// (awsec2.NewDescribeInstancesPaginator(c.DescribeInstances, …)).
		ast.Inspect(file, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok || len(call.Args) == 0 {
				return true
			}
			fn, ok := call.Fun.(*ast.SelectorExpr)
			if !ok || !strings.HasPrefix(fn.Sel.Name, "New") {
				return true
			}
			if arg, ok := call.Args[0].(*ast.SelectorExpr); ok {
				if a, ok := fieldAction[arg.Sel.Name]; ok {
					used[a] = true
				}
			}
			return true
		})
		// Clients fields passed to helpers (describeInstances(ctx, c.DescribeInstances, …)).
		ast.Inspect(file, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			for _, a := range call.Args {
				if s, ok := a.(*ast.SelectorExpr); ok {
					if act, ok := fieldAction[s.Sel.Name]; ok {
						if x, ok := s.X.(*ast.Ident); ok && x.Name == "c" {
							used[act] = true
						}
					}
				}
			}
			return true
		})
	}
	return used
}

func TestIAMPolicyMatchesCalls(t *testing.T) {
	used := calledOperations(t)
	want := map[string]bool{}
	for a := range used {
		want[a] = true
	}
	for a := range used {
		for _, x := range implicitPermissions[a] {
			want[a], want[x] = true, true
		}
	}
	data, err := os.ReadFile("iam-policy.json")
	if err != nil {
		t.Fatal(err)
	}
	var pol struct {
		Version   string
		Statement []struct {
			Sid       string
			Effect    string
			Action    []string
			Resource  any
			Condition map[string]map[string]any
		}
	}
	if err := json.Unmarshal(data, &pol); err != nil {
		t.Fatalf("iam-policy.json: %v", err)
	}
	got := map[string]bool{}
	for _, s := range pol.Statement {
		if s.Effect != "Allow" {
			t.Errorf("statement with effect %q", s.Effect)
		}
		for _, a := range s.Action {
			if strings.Contains(a, "*") {
				t.Errorf("wildcard action %q", a)
			}
			if got[a] && len(s.Condition) == 0 {
				t.Errorf("action %q listed twice, once without a condition", a)
			}
			got[a] = true
			for prefix, why := range conditioned {
				if strings.HasPrefix(a, prefix) && len(s.Condition) == 0 && s.Resource == "*" {
					t.Errorf("%s: %s granted on every resource without a condition (want %s)", s.Sid, a, why)
				}
			}
		}
	}
	if d := cmp.Diff(sorted(want), sorted(got)); d != "" {
		t.Errorf("iam-policy.json actions (-called +policy):\n%s", d)
	}
	// Every Clients field must be called somewhere, or it is an extra grant.
	typ := reflect.TypeFor[Clients]()
	for i := range typ.NumField() {
		if a := typ.Field(i).Tag.Get("iam"); !used[a] {
			t.Errorf("Clients.%s (%s) is never called", typ.Field(i).Name, a)
		}
	}
}

func sorted(m map[string]bool) []string {
	s := make([]string, 0, len(m))
	for k := range m {
		s = append(s, k)
	}
	sort.Strings(s)
	return s
}

// TestNewFillsEveryClient: New sets every field, so no step can fail with
// ErrMissingClient on a real client set.
func TestNewFillsEveryClient(t *testing.T) {
	c := New(testConfig())
	v := reflect.ValueOf(c).Elem()
	for i := range v.NumField() {
		if v.Field(i).IsNil() {
			t.Errorf("New left %s nil", v.Type().Field(i).Name)
		}
	}
}
