package ec2test_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/abusekit/abusekit/internal/testenv"
	"github.com/abusekit/abusekit/plugins/ec2/ec2test"
)

const awsCLI = "/usr/bin/aws"

type cliError struct {
	err    error
	stderr string
}

func (e *cliError) Error() string { return e.err.Error() + ": " + e.stderr }

// awsRun runs the Debian AWS CLI v2 against url and decodes its JSON.
func awsRun(t *testing.T, url string, out any, args ...string) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	full := append([]string{"--endpoint-url", url, "--region", "us-east-1", "--no-cli-pager", "--output", "json"}, args...)
	cmd := exec.CommandContext(ctx, awsCLI, full...)
	cmd.Env = []string{"AWS_ACCESS_KEY_ID=AKIDEC2TEST", "AWS_SECRET_ACCESS_KEY=ec2test", "AWS_CONFIG_FILE=/dev/null",
		"AWS_SHARED_CREDENTIALS_FILE=/dev/null", "AWS_EC2_METADATA_DISABLED=true", "HOME=" + t.TempDir(), "PATH=/usr/bin:/bin"}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	b, err := cmd.Output()
	if err != nil {
		return &cliError{err: err, stderr: stderr.String()}
	}
	if out != nil && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("aws %v: decode %q: %v", args, b, err)
		}
	}
	return nil
}

func needCLI(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(awsCLI); err != nil {
		testenv.Skipf(t, "needs the AWS CLI v2 from Debian's awscli package at %s (apt-get install awscli): %v", awsCLI, err)
	}
}

func TestAWSCLI(t *testing.T) {
	needCLI(t)
	srv := ec2test.NewServer(ec2test.WithSeed(11))
	defer srv.Close()
	u := srv.URL

	var run struct {
		Instances []struct{ InstanceId string }
	}
	if err := awsRun(t, u, &run, "ec2", "run-instances", "--image-id", srv.ImageID(ec2test.ImageDebian12), "--instance-type", "t3.micro",
		"--count", "1", "--tag-specifications", "ResourceType=instance,Tags=[{Key=Name,Value=cli}]"); err != nil {
		t.Fatal(err)
	}
	id := run.Instances[0].InstanceId
	var desc struct {
		Reservations []struct {
			Instances []struct {
				InstanceId string
				State      struct{ Name string }
			}
		}
	}
	if err := awsRun(t, u, &desc, "ec2", "describe-instances", "--filters", "Name=tag:Name,Values=cli"); err != nil {
		t.Fatal(err)
	}
	if len(desc.Reservations) != 1 || desc.Reservations[0].Instances[0].InstanceId != id || desc.Reservations[0].Instances[0].State.Name != "running" {
		t.Fatalf("describe-instances = %+v", desc)
	}
	var snaps struct {
		Snapshots []struct{ SnapshotId, State, VolumeId string }
	}
	if err := awsRun(t, u, &snaps, "ec2", "create-snapshots", "--instance-specification", "InstanceId="+id,
		"--tag-specifications", "ResourceType=snapshot,Tags=[{Key=Incident,Value=7}]"); err != nil {
		t.Fatal(err)
	}
	if len(snaps.Snapshots) != 1 || snaps.Snapshots[0].State != "pending" {
		t.Fatalf("create-snapshots = %+v", snaps)
	}
	if err := awsRun(t, u, &snaps, "ec2", "describe-snapshots", "--owner-ids", "self", "--filters", "Name=tag:Incident,Values=7"); err != nil {
		t.Fatal(err)
	}
	if len(snaps.Snapshots) != 1 || snaps.Snapshots[0].State != "completed" {
		t.Fatalf("describe-snapshots = %+v", snaps)
	}
	sg := srv.DefaultSecurityGroup()
	var auth struct {
		Return             bool
		SecurityGroupRules []struct{ CidrIpv4 string }
	}
	if err := awsRun(t, u, &auth, "ec2", "authorize-security-group-ingress", "--group-id", sg, "--protocol", "tcp", "--port", "22", "--cidr", "0.0.0.0/0"); err != nil {
		t.Fatal(err)
	}
	if !auth.Return || len(auth.SecurityGroupRules) != 1 || auth.SecurityGroupRules[0].CidrIpv4 != "0.0.0.0/0" {
		t.Errorf("authorize = %+v", auth)
	}
	err := awsRun(t, u, nil, "ec2", "authorize-security-group-ingress", "--group-id", sg, "--protocol", "tcp", "--port", "22", "--cidr", "0.0.0.0/0")
	if err == nil || !strings.Contains(err.Error(), "InvalidPermission.Duplicate") {
		t.Errorf("duplicate authorize: %v", err)
	}
	if err := awsRun(t, u, nil, "ec2", "revoke-security-group-ingress", "--group-id", sg, "--protocol", "tcp", "--port", "22", "--cidr", "0.0.0.0/0"); err != nil {
		t.Fatal(err)
	}
	if err := awsRun(t, u, nil, "cloudwatch", "put-metric-alarm", "--alarm-name", id+"-cpu", "--metric-name", "CPUUtilization",
		"--namespace", "AWS/EC2", "--statistic", "Average", "--period", "300", "--threshold", "80", "--comparison-operator",
		"GreaterThanThreshold", "--evaluation-periods", "2", "--dimensions", "Name=InstanceId,Value="+id); err != nil {
		t.Fatal(err)
	}
	var alarms struct {
		MetricAlarms []struct {
			AlarmName  string
			Threshold  float64
			Period     int
			Dimensions []struct{ Name, Value string }
		}
	}
	if err := awsRun(t, u, &alarms, "cloudwatch", "describe-alarms", "--alarm-names", id+"-cpu"); err != nil {
		t.Fatal(err)
	}
	if len(alarms.MetricAlarms) != 1 || alarms.MetricAlarms[0].Threshold != 80 || alarms.MetricAlarms[0].Period != 300 ||
		alarms.MetricAlarms[0].Dimensions[0].Value != id {
		t.Errorf("describe-alarms = %+v", alarms)
	}
	err = awsRun(t, u, nil, "ec2", "describe-instances", "--instance-ids", "i-0123456789abcdef0")
	if err == nil || !strings.Contains(err.Error(), "InvalidInstanceID.NotFound") {
		t.Errorf("missing instance: %v", err)
	}
	var got []string
	for _, c := range srv.Calls() {
		got = append(got, c.Service+" "+c.Protocol+" "+c.Operation+" "+c.Error)
	}
	want := []string{
		"ec2 ec2query RunInstances ", "ec2 ec2query DescribeInstances ", "ec2 ec2query CreateSnapshots ",
		"ec2 ec2query DescribeSnapshots ", "ec2 ec2query AuthorizeSecurityGroupIngress ",
		"ec2 ec2query AuthorizeSecurityGroupIngress InvalidPermission.Duplicate", "ec2 ec2query RevokeSecurityGroupIngress ",
		"monitoring awsquery PutMetricAlarm ", "monitoring awsquery DescribeAlarms ", "ec2 ec2query DescribeInstances InvalidInstanceID.NotFound",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("trace (-want +got):\n%s", diff)
	}
}

// TestStandaloneBinary builds cmd/ec2test, starts it on a free loopback
// port and talks to it with the AWS CLI (without the CLI it checks only
// the ready line).
func TestStandaloneBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a binary")
	}
	bin := filepath.Join(t.TempDir(), "ec2test")
	build := exec.Command("go", "build", "-o", bin, "./cmd/ec2test")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "-addr", "127.0.0.1:0", "-json", "-region", "eu-west-1", "-seed", "5")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Signal(os.Interrupt) //nolint:errcheck // Wait reports
		cmd.Wait()                       //nolint:errcheck // exit status after SIGINT
	}()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	var ready struct {
		URL, Region string
		Images      map[string]string
	}
	if err := json.Unmarshal([]byte(line), &ready); err != nil {
		t.Fatalf("ready line %q: %v", line, err)
	}
	if !strings.HasPrefix(ready.URL, "http://127.0.0.1:") || ready.Region != "eu-west-1" || ready.Images["al2023"] == "" {
		t.Fatalf("ready = %+v", ready)
	}
	if _, err := os.Stat(awsCLI); err != nil {
		return
	}
	var azs struct {
		AvailabilityZones []struct{ ZoneName string }
	}
	if err := awsRun(t, ready.URL, &azs, "--region", "eu-west-1", "ec2", "describe-availability-zones"); err != nil {
		t.Fatal(err)
	}
	if len(azs.AvailabilityZones) != 3 || azs.AvailabilityZones[0].ZoneName != "eu-west-1a" {
		t.Errorf("zones = %+v", azs)
	}
}

// The AWS CLI drives the operations contain added: instance profile
// associations and network ACL entries, and a revoke of a missing rule.
func TestAWSCLIContainOperations(t *testing.T) {
	needCLI(t)
	srv := ec2test.NewServer(ec2test.WithSeed(12))
	defer srv.Close()
	u := srv.URL
	const arn = "arn:aws:iam::" + ec2test.AccountID + ":instance-profile/web"
	ids, err := srv.AddInstances(1, ec2test.InstanceSpec{IAMInstanceProfileARN: arn})
	if err != nil {
		t.Fatal(err)
	}
	var assocs struct {
		IamInstanceProfileAssociations []struct {
			AssociationId, InstanceId, State string
			IamInstanceProfile               struct{ Arn string }
		}
	}
	if err := awsRun(t, u, &assocs, "ec2", "describe-iam-instance-profile-associations", "--filters", "Name=instance-id,Values="+ids[0]); err != nil {
		t.Fatal(err)
	}
	if len(assocs.IamInstanceProfileAssociations) != 1 || assocs.IamInstanceProfileAssociations[0].IamInstanceProfile.Arn != arn {
		t.Fatalf("associations = %+v", assocs)
	}
	if err := awsRun(t, u, nil, "ec2", "disassociate-iam-instance-profile", "--association-id", assocs.IamInstanceProfileAssociations[0].AssociationId); err != nil {
		t.Fatal(err)
	}
	if err := awsRun(t, u, nil, "ec2", "associate-iam-instance-profile", "--instance-id", ids[0], "--iam-instance-profile", "Arn="+arn); err != nil {
		t.Fatal(err)
	}
	var acls struct {
		NetworkAcls []struct {
			NetworkAclId string
			Entries      []struct {
				RuleNumber int
				Egress     bool
				RuleAction string
				CidrBlock  string
			}
		}
	}
	if err := awsRun(t, u, &acls, "ec2", "describe-network-acls", "--filters", "Name=association.subnet-id,Values="+srv.DefaultSubnets()[0]); err != nil {
		t.Fatal(err)
	}
	if len(acls.NetworkAcls) != 1 || len(acls.NetworkAcls[0].Entries) != 4 {
		t.Fatalf("describe-network-acls = %+v", acls)
	}
	acl := acls.NetworkAcls[0].NetworkAclId
	if err := awsRun(t, u, nil, "ec2", "create-network-acl-entry", "--network-acl-id", acl, "--rule-number", "1", "--ingress",
		"--protocol", "-1", "--rule-action", "deny", "--cidr-block", "172.31.0.9/32"); err != nil {
		t.Fatal(err)
	}
	if err := awsRun(t, u, nil, "ec2", "delete-network-acl-entry", "--network-acl-id", acl, "--rule-number", "1", "--ingress"); err != nil {
		t.Fatal(err)
	}
	var rev struct {
		Return               bool
		UnknownIpPermissions []struct{ IpProtocol string }
	}
	if err := awsRun(t, u, &rev, "ec2", "revoke-security-group-ingress", "--group-id", srv.DefaultSecurityGroup(), "--protocol", "tcp", "--port", "3389", "--cidr", "0.0.0.0/0"); err != nil {
		t.Fatal(err)
	}
	if !rev.Return || len(rev.UnknownIpPermissions) != 1 {
		t.Errorf("revoke of a missing rule = %+v", rev)
	}

	// Route tables: what Contain reads to find NAT and transit gateway paths.
	var rt struct {
		RouteTable struct{ RouteTableId, VpcId string }
	}
	if err := awsRun(t, u, &rt, "ec2", "create-route-table", "--vpc-id", srv.DefaultVPC()); err != nil {
		t.Fatal(err)
	}
	rtb := rt.RouteTable.RouteTableId
	if err := awsRun(t, u, nil, "ec2", "create-route", "--route-table-id", rtb, "--destination-cidr-block", "0.0.0.0/0", "--nat-gateway-id", "nat-0123456789abcdef0"); err != nil {
		t.Fatal(err)
	}
	if err := awsRun(t, u, nil, "ec2", "create-route", "--route-table-id", rtb, "--destination-cidr-block", "10.0.0.0/8", "--transit-gateway-id", "tgw-0123456789abcdef0"); err != nil {
		t.Fatal(err)
	}
	if err := awsRun(t, u, nil, "ec2", "associate-route-table", "--route-table-id", rtb, "--subnet-id", srv.DefaultSubnets()[0]); err != nil {
		t.Fatal(err)
	}
	var rts struct {
		RouteTables []struct {
			RouteTableId string
			Routes       []struct{ DestinationCidrBlock, GatewayId, NatGatewayId, TransitGatewayId string }
			Associations []struct {
				SubnetId string
				Main     bool
			}
		}
	}
	if err := awsRun(t, u, &rts, "ec2", "describe-route-tables", "--filters", "Name=association.subnet-id,Values="+srv.DefaultSubnets()[0]); err != nil {
		t.Fatal(err)
	}
	if len(rts.RouteTables) != 1 || rts.RouteTables[0].RouteTableId != rtb || len(rts.RouteTables[0].Routes) != 3 ||
		rts.RouteTables[0].Routes[1].NatGatewayId != "nat-0123456789abcdef0" || rts.RouteTables[0].Routes[2].TransitGatewayId != "tgw-0123456789abcdef0" {
		t.Errorf("describe-route-tables = %+v", rts)
	}

	// A Spot Instance: run it, see its lifecycle, and have termination
	// protection refused as EC2 refuses it.
	var ran struct {
		Instances []struct{ InstanceId, InstanceLifecycle string }
	}
	if err := awsRun(t, u, &ran, "ec2", "run-instances", "--image-id", srv.ImageID(ec2test.ImageAmazonLinux2023), "--count", "1",
		"--instance-market-options", "MarketType=spot"); err != nil {
		t.Fatal(err)
	}
	if len(ran.Instances) != 1 || ran.Instances[0].InstanceLifecycle != "spot" {
		t.Fatalf("run-instances spot = %+v", ran)
	}
	err = awsRun(t, u, nil, "ec2", "modify-instance-attribute", "--instance-id", ran.Instances[0].InstanceId, "--disable-api-termination")
	var ce *cliError
	if !errors.As(err, &ce) || !strings.Contains(ce.stderr, "UnsupportedOperation") {
		t.Errorf("termination protection on a Spot Instance: %v", err)
	}

	// A non-default VPC with IPv6, a dual-stack subnet, an instance with
	// an IPv6 address.
	var vpc struct {
		Vpc struct {
			VpcId                       string
			Ipv6CidrBlockAssociationSet []struct{ Ipv6CidrBlock string }
		}
	}
	if err := awsRun(t, u, &vpc, "ec2", "create-vpc", "--cidr-block", "10.30.0.0/16", "--amazon-provided-ipv6-cidr-block"); err != nil {
		t.Fatal(err)
	}
	if len(vpc.Vpc.Ipv6CidrBlockAssociationSet) != 1 {
		t.Fatalf("create-vpc = %+v", vpc)
	}
	v6 := vpc.Vpc.Ipv6CidrBlockAssociationSet[0].Ipv6CidrBlock
	var sub struct{ Subnet struct{ SubnetId string } }
	if err := awsRun(t, u, &sub, "ec2", "create-subnet", "--vpc-id", vpc.Vpc.VpcId, "--cidr-block", "10.30.1.0/24",
		"--ipv6-cidr-block", strings.TrimSuffix(v6, "00::/56")+"01::/64"); err != nil {
		t.Fatal(err)
	}
	var dual struct {
		Instances []struct {
			NetworkInterfaces []struct {
				Ipv6Addresses []struct{ Ipv6Address string }
			}
		}
	}
	if err := awsRun(t, u, &dual, "ec2", "run-instances", "--image-id", srv.ImageID(ec2test.ImageAmazonLinux2023), "--count", "1",
		"--subnet-id", sub.Subnet.SubnetId, "--ipv6-address-count", "1"); err != nil {
		t.Fatal(err)
	}
	if len(dual.Instances) != 1 || len(dual.Instances[0].NetworkInterfaces) != 1 || len(dual.Instances[0].NetworkInterfaces[0].Ipv6Addresses) != 1 {
		t.Errorf("run-instances with IPv6 = %+v", dual)
	}

	// Route 53 Resolver DNS Firewall: a rule group associated with the
	// VPC, listed, and disassociated.
	var frg struct{ FirewallRuleGroup struct{ Id string } }
	if err := awsRun(t, u, &frg, "route53resolver", "create-firewall-rule-group", "--name", "block", "--creator-request-id", "g1"); err != nil {
		t.Fatal(err)
	}
	var fa struct{ FirewallRuleGroupAssociation struct{ Id, Status string } }
	if err := awsRun(t, u, &fa, "route53resolver", "associate-firewall-rule-group", "--creator-request-id", "a1", "--firewall-rule-group-id", frg.FirewallRuleGroup.Id,
		"--vpc-id", srv.DefaultVPC(), "--priority", "101", "--name", "abusekit"); err != nil {
		t.Fatal(err)
	}
	var fl struct{ FirewallRuleGroupAssociations []struct{ Id, VpcId string } }
	if err := awsRun(t, u, &fl, "route53resolver", "list-firewall-rule-group-associations", "--vpc-id", srv.DefaultVPC()); err != nil {
		t.Fatal(err)
	}
	if len(fl.FirewallRuleGroupAssociations) != 1 || fl.FirewallRuleGroupAssociations[0].Id != fa.FirewallRuleGroupAssociation.Id {
		t.Errorf("list-firewall-rule-group-associations = %+v", fl)
	}
	if err := awsRun(t, u, nil, "route53resolver", "disassociate-firewall-rule-group", "--firewall-rule-group-association-id", fa.FirewallRuleGroupAssociation.Id); err != nil {
		t.Fatal(err)
	}
}
