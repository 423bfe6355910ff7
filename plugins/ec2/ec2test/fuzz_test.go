package ec2test

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/smithy-go/encoding/cbor"
)

var update = flag.Bool("update", false, "rewrite testdata/requests from real SDK requests")

type capture struct {
	rt     http.RoundTripper
	bodies [][]byte
}

func (c *capture) Do(req *http.Request) (*http.Response, error) {
	b, _ := io.ReadAll(req.Body)
	c.bodies = append(c.bodies, b)
	req.Body = io.NopCloser(bytes.NewReader(b))
	return c.rt.RoundTrip(req)
}

// TestCaptureRequests records the bodies the real SDK sends, as seed
// samples for the fuzz targets (go test -run CaptureRequests -update).
func TestCaptureRequests(t *testing.T) {
	if !*update {
		t.Skip("run with -update to rewrite testdata/requests")
	}
	ctx := context.Background()
	srv := NewServer(WithSeed(1))
	defer srv.Close()
	cp := &capture{rt: srv.Client().Transport}
	cfg := srv.Config()
	cfg.HTTPClient = cp
	c := ec2.NewFromConfig(cfg)
	cw := cloudwatch.NewFromConfig(cfg)
	img := srv.ImageID(ImageAmazonLinux2023)
	run, err := c.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: &img, MinCount: aws.Int32(1), MaxCount: aws.Int32(1),
		TagSpecifications:   []types.TagSpecification{{ResourceType: types.ResourceTypeInstance, Tags: []types.Tag{{Key: aws.String("Name"), Value: aws.String("x")}}}},
		BlockDeviceMappings: []types.BlockDeviceMapping{{DeviceName: aws.String("/dev/sdf"), Ebs: &types.EbsBlockDevice{VolumeSize: aws.Int32(10)}}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.DescribeInstances(ctx, &ec2.DescribeInstancesInput{Filters: []types.Filter{{Name: aws.String("instance-state-name"), Values: []string{"running", "pending"}}}, MaxResults: aws.Int32(5)}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: aws.String(srv.DefaultSecurityGroup()),
		IpPermissions: []types.IpPermission{{IpProtocol: aws.String("tcp"), FromPort: aws.Int32(22), ToPort: aws.Int32(22), IpRanges: []types.IpRange{{CidrIp: aws.String("203.0.113.0/24")}}}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateSnapshots(ctx, &ec2.CreateSnapshotsInput{InstanceSpecification: &types.InstanceSpecification{InstanceId: run.Instances[0].InstanceId}}); err != nil {
		t.Fatal(err)
	}
	if _, err := cw.PutMetricAlarm(ctx, &cloudwatch.PutMetricAlarmInput{AlarmName: aws.String("a"), MetricName: aws.String("NetworkOut"),
		Namespace: aws.String("AWS/EC2"), Statistic: cwtypes.StatisticSum, Period: aws.Int32(60), EvaluationPeriods: aws.Int32(1),
		Threshold: aws.Float64(1e9), ComparisonOperator: cwtypes.ComparisonOperatorGreaterThanThreshold,
		Dimensions: []cwtypes.Dimension{{Name: aws.String("InstanceId"), Value: run.Instances[0].InstanceId}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := cw.DescribeAlarms(ctx, &cloudwatch.DescribeAlarmsInput{AlarmNames: []string{"a"}}); err != nil {
		t.Fatal(err)
	}
	names := []string{"run-instances.form", "describe-instances.form", "authorize-ingress.form", "create-snapshots.form",
		"put-metric-alarm.cbor", "describe-alarms.cbor"}
	if len(cp.bodies) != len(names) {
		t.Fatalf("captured %d bodies", len(cp.bodies))
	}
	for i, n := range names {
		writeSample(t, n, cp.bodies[i])
	}
}

func writeSample(t *testing.T, name string, b []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Join("testdata", "requests"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join("testdata", "requests", name), b, 0o644); err != nil {
		t.Fatal(err)
	}
	target := "FuzzParseQuery"
	if strings.HasSuffix(name, ".cbor") {
		target = "FuzzDecodeCBOR"
	}
	dir := filepath.Join("testdata", "fuzz", target)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	corpus := "go test fuzz v1\n[]byte(" + strconv.Quote(string(b)) + ")\n"
	if err := os.WriteFile(filepath.Join(dir, strings.TrimSuffix(name, filepath.Ext(name))), []byte(corpus), 0o644); err != nil {
		t.Fatal(err)
	}
}

func samples(f *testing.F, ext string) {
	paths, err := filepath.Glob(filepath.Join("testdata", "requests", "*"+ext))
	if err != nil || len(paths) == 0 {
		f.Fatalf("no testdata/requests/*%s samples (go test -run CaptureRequests -update)", ext)
	}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

func FuzzParseQuery(f *testing.F) {
	samples(f, ".form")
	f.Add([]byte("Action=DescribeInstances&Version=2016-11-15&InstanceId.1=i-0123456789abcdef0"))
	f.Add([]byte("a.0=x&a.99999999999=y&%zz"))
	f.Add([]byte("Filter.1.Name=tag%3AName&Filter.1.Value.1=*web?&Filter..1=x"))
	f.Fuzz(func(t *testing.T, body []byte) {
		q, err := parseQuery(body)
		if err != nil {
			if q != nil {
				t.Fatal("tree returned with an error")
			}
			return
		}
		// Every accessor must be total on any tree.
		for _, k := range []string{"Action", "InstanceId", "Filter", "IpPermissions", "TagSpecification"} {
			_ = q.str(k)
			_ = q.strs(k)
			for _, n := range q.list(k) {
				_ = n.str("Name")
				_ = n.strs("Value")
				_, _, _ = n.integer("FromPort")
				_, _, _ = n.boolean("Ebs", "DeleteOnTermination")
			}
		}
		_ = fingerprint(q)
		_ = fromQuery(q)
		if _, err := parseFilters(q); err != nil && !strings.Contains(err.Error(), "InvalidParameterValue") {
			t.Fatalf("filter error without a code: %v", err)
		}
	})
}

func FuzzDecodeCBOR(f *testing.F) {
	samples(f, ".cbor")
	f.Add(cbor.Encode(cbor.Map{"AlarmNames": cbor.List{cbor.String("a")}, "MaxRecords": cbor.Uint(10)}))
	f.Add([]byte{0xbf, 0x61, 0x61, 0x9f, 0x01, 0xff, 0xff}) // indefinite map and list
	f.Add([]byte{0xc1, 0xfb, 0x41, 0xd9, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00})
	f.Fuzz(func(t *testing.T, body []byte) {
		in, err := decodeCBORInput(body)
		if err != nil {
			return
		}
		// The handlers must answer any decoded input with a result or an
		// API error, never a panic.
		srv := &Server{opts: options{region: "us-east-1"}}
		srv.opts.clock = fixedNow
		srv.rng = newRand(1)
		st := newState(srv)
		srv.st = st
		for _, op := range []string{"PutMetricAlarm", "DescribeAlarms", "DeleteAlarms", "DescribeAlarmsForMetric", "SetAlarmState", "TagResource", "UntagResource", "ListTagsForResource"} {
			out, err := cwOps[op](st, in)
			if err == nil {
				_ = cbor.Encode(toCBOR(out))
				var b bytes.Buffer
				writeGenericXML(&b, out)
			} else if asAPIError(err).code == "InternalError" {
				t.Fatalf("%s: untyped error %v", op, err)
			}
		}
	})
}

func TestFuzzHelpersDeterministic(t *testing.T) {
	a := fmt.Sprint(newRand(3).Uint64())
	b := fmt.Sprint(newRand(3).Uint64())
	if a != b {
		t.Fatal("newRand is not deterministic")
	}
}

// FuzzHandlers sends arbitrary form bodies to every EC2, Auto Scaling and
// ELBv2 action of a seeded server and fails on any handler panic (which
// ServeHTTP turns into a 500 "handler panic").
func FuzzHandlers(f *testing.F) {
	samples(f, ".form")
	f.Add([]byte("InstanceId.1=i-0123456789abcdef0&DryRun=true"))
	f.Add([]byte("IpPermissions.1.IpProtocol=tcp&IpPermissions.1.FromPort=22&IpPermissions.1.ToPort=22&IpPermissions.1.IpRanges.1.CidrIp=0.0.0.0/0&GroupName=default"))
	f.Add([]byte("AutoScalingGroupName=g&InstanceIds.member.1=i-1&ShouldDecrementDesiredCapacity=true&MinSize=0&MaxSize=2&AvailabilityZones.member.1=us-east-1a"))
	f.Add([]byte("Name=tg&Protocol=HTTP&Port=80&Targets.member.1.Id=i-1&TargetGroupArn=x"))
	var actions []string
	for op, svc := range knownActions {
		if svc != "monitoring" {
			actions = append(actions, svc+" "+op)
		}
	}
	sortStrings(actions)
	srv := NewUnstartedServer(WithSeed(1), WithClock(fixedNow))
	defer srv.Close()
	ids, err := srv.AddInstances(2, InstanceSpec{DataVolumes: map[string]int32{"/dev/sdf": 5}})
	if err != nil {
		f.Fatal(err)
	}
	tg, _ := srv.AddTargetGroup("tg", 80, ids...)
	if err := srv.AddAutoScalingGroup("g", []string{tg}, ids...); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if len(body) > 4096 {
			return
		}
		// Put real ids where the fuzzer wrote placeholders.
		b := bytes.ReplaceAll(body, []byte("i-1"), []byte(ids[0]))
		for _, a := range actions {
			svc, op, _ := strings.Cut(a, " ")
			start := time.Now()
			req, _ := http.NewRequest(http.MethodPost, "/", bytes.NewReader(append([]byte("Action="+op+"&"), b...)))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/"+svc+"/aws4_request, SignedHeaders=host, Signature=0")
			rec := &recorder{h: http.Header{}}
			srv.ServeHTTP(rec, req)
			if rec.code >= 500 && bytes.Contains(rec.body.Bytes(), []byte("handler panic")) {
				t.Fatalf("%s %s panicked: %s", svc, op, rec.body.String())
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Fatalf("%s %s took %v on %q", svc, op, d, b)
			}
		}
	})
}

type recorder struct {
	h    http.Header
	code int
	body bytes.Buffer
}

func (r *recorder) Header() http.Header         { return r.h }
func (r *recorder) Write(b []byte) (int, error) { return r.body.Write(b) }
func (r *recorder) WriteHeader(code int)        { r.code = code }

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

// FuzzResolverJSON sends any body to each Route 53 Resolver operation:
// an answer or an API error, never a panic or a hang.
func FuzzResolverJSON(f *testing.F) {
	f.Add([]byte(`{"CreatorRequestId":"r","FirewallRuleGroupId":"rslvr-frg-1","VpcId":"vpc-1","Priority":101,"Name":"n"}`))
	f.Add([]byte(`{"VpcId":null,"FirewallRuleGroupId":7}`))
	f.Add([]byte(`{"FirewallRuleGroupAssociationId":"rslvr-frgassoc-1","Priority":-1e99}`))
	f.Add([]byte(`{"Name":""}`))
	srv := NewUnstartedServer(WithSeed(1), WithClock(fixedNow))
	defer srv.Close()
	gid := srv.AddFirewallRuleGroup("g")
	vpc := srv.DefaultVPC()
	ops := []string{"CreateFirewallRuleGroup", "AssociateFirewallRuleGroup", "ListFirewallRuleGroupAssociations", "DisassociateFirewallRuleGroup", "Nope"}
	f.Fuzz(func(t *testing.T, body []byte) {
		if len(body) > 4096 {
			return
		}
		b := bytes.ReplaceAll(bytes.ReplaceAll(body, []byte("rslvr-frg-1"), []byte(gid)), []byte("vpc-1"), []byte(vpc))
		for _, op := range ops {
			req, _ := http.NewRequest(http.MethodPost, "/", bytes.NewReader(b))
			req.Header.Set("Content-Type", "application/x-amz-json-1.1")
			req.Header.Set("X-Amz-Target", "Route53Resolver."+op)
			rec := &recorder{h: http.Header{}}
			srv.ServeHTTP(rec, req)
			if rec.code == 0 || rec.code >= 500 {
				t.Fatalf("%s answered %d: %s", op, rec.code, rec.body.String())
			}
		}
	})
}
