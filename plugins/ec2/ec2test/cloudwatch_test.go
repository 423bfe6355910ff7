package ec2test_test

import (
	"context"
	"encoding/xml"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/abusekit/abusekit/plugins/ec2/ec2test"
)

func TestCloudWatchCBOR(t *testing.T) {
	ctx := context.Background()
	srv := ec2test.NewServer(ec2test.WithSeed(3))
	defer srv.Close()
	cfg := srv.Config()
	cfg.RetryMaxAttempts = 1
	cw := cloudwatch.NewFromConfig(cfg)
	in := &cloudwatch.PutMetricAlarmInput{
		AlarmName:          aws.String("i-0abc-NetworkOut"),
		AlarmDescription:   aws.String("egress spike"),
		MetricName:         aws.String("NetworkOut"),
		Namespace:          aws.String("AWS/EC2"),
		Statistic:          cwtypes.StatisticSum,
		Period:             aws.Int32(300),
		EvaluationPeriods:  aws.Int32(1),
		Threshold:          aws.Float64(5e8),
		ComparisonOperator: cwtypes.ComparisonOperatorGreaterThanThreshold,
		Dimensions:         []cwtypes.Dimension{{Name: aws.String("InstanceId"), Value: aws.String("i-0abc")}},
		AlarmActions:       []string{"arn:aws:sns:us-east-1:123456789012:soc"},
		TreatMissingData:   aws.String("notBreaching"),
	}
	if _, err := cw.PutMetricAlarm(ctx, in); err != nil {
		t.Fatal(err)
	}
	out, err := cw.DescribeAlarms(ctx, &cloudwatch.DescribeAlarmsInput{AlarmNames: []string{"i-0abc-NetworkOut"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.MetricAlarms) != 1 {
		t.Fatalf("alarms = %d", len(out.MetricAlarms))
	}
	want := cwtypes.MetricAlarm{
		AlarmName: in.AlarmName, AlarmDescription: in.AlarmDescription, MetricName: in.MetricName, Namespace: in.Namespace,
		Statistic: in.Statistic, Period: in.Period, EvaluationPeriods: in.EvaluationPeriods, Threshold: in.Threshold,
		ComparisonOperator: in.ComparisonOperator, Dimensions: in.Dimensions, AlarmActions: in.AlarmActions,
		TreatMissingData: in.TreatMissingData, ActionsEnabled: aws.Bool(true), OKActions: []string{}, InsufficientDataActions: []string{},
		AlarmArn:   aws.String("arn:aws:cloudwatch:us-east-1:123456789012:alarm:i-0abc-NetworkOut"),
		StateValue: cwtypes.StateValueInsufficientData, StateReason: aws.String("Unchecked: Initial alarm creation"),
	}
	got := out.MetricAlarms[0]
	if got.StateUpdatedTimestamp == nil || got.AlarmConfigurationUpdatedTimestamp == nil {
		t.Errorf("timestamps missing: %+v", got)
	}
	ignore := cmpopts.IgnoreFields(cwtypes.MetricAlarm{}, "StateUpdatedTimestamp", "StateTransitionedTimestamp", "AlarmConfigurationUpdatedTimestamp")
	if diff := cmp.Diff(want, got, ignoreNoSmithy(), ignore); diff != "" {
		t.Errorf("alarm (-want +got):\n%s", diff)
	}
	_, err = cw.PutMetricAlarm(ctx, &cloudwatch.PutMetricAlarmInput{AlarmName: aws.String("bad"), EvaluationPeriods: aws.Int32(1),
		ComparisonOperator: cwtypes.ComparisonOperatorGreaterThanThreshold, Threshold: aws.Float64(1),
		MetricName: aws.String("CPUUtilization"), Namespace: aws.String("AWS/EC2"), Statistic: cwtypes.StatisticAverage, Period: aws.Int32(7)})
	if got := apiCode(t, err); got != "InvalidParameterValue" {
		t.Errorf("bad period: %s (%v)", got, err)
	}
	_, err = cw.DeleteAlarms(ctx, &cloudwatch.DeleteAlarmsInput{AlarmNames: []string{"nope"}})
	if got := apiCode(t, err); got != "ResourceNotFound" {
		t.Errorf("delete missing: %s (%v)", got, err)
	}
	if _, err := cw.DeleteAlarms(ctx, &cloudwatch.DeleteAlarmsInput{AlarmNames: []string{"i-0abc-NetworkOut"}}); err != nil {
		t.Fatal(err)
	}
	calls := srv.Calls()
	var protos []string
	for _, c := range calls {
		protos = append(protos, c.Protocol+" "+c.Operation+" "+c.Error)
	}
	wantCalls := []string{"rpcv2cbor PutMetricAlarm ", "rpcv2cbor DescribeAlarms ", "rpcv2cbor PutMetricAlarm InvalidParameterValue",
		"rpcv2cbor DeleteAlarms ResourceNotFound", "rpcv2cbor DeleteAlarms "}
	if diff := cmp.Diff(wantCalls, protos); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
}

// TestCloudWatchQuery speaks the awsquery protocol that older clients
// (AWS CLI v2.9, SDKs before the RPC v2 switch) send.
func TestCloudWatchQuery(t *testing.T) {
	srv := ec2test.NewServer()
	defer srv.Close()
	post := func(form url.Values) (int, string) {
		t.Helper()
		form.Set("Version", "2010-08-01")
		req, _ := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
		req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/monitoring/aws4_request, SignedHeaders=host, Signature=00")
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	code, body := post(url.Values{"Action": {"PutMetricAlarm"}, "AlarmName": {"cpu"}, "MetricName": {"CPUUtilization"},
		"Namespace": {"AWS/EC2"}, "Statistic": {"Average"}, "Period": {"60"}, "EvaluationPeriods": {"2"}, "Threshold": {"90.5"},
		"ComparisonOperator": {"GreaterThanThreshold"}, "Dimensions.member.1.Name": {"InstanceId"}, "Dimensions.member.1.Value": {"i-1"},
		"AlarmActions.member.1": {"arn:aws:automate:us-east-1:ec2:stop"}})
	if code != 200 || !strings.Contains(body, "<PutMetricAlarmResponse") {
		t.Fatalf("put: %d %s", code, body)
	}
	code, body = post(url.Values{"Action": {"DescribeAlarms"}, "AlarmNames.member.1": {"cpu"}})
	if code != 200 {
		t.Fatalf("describe: %d %s", code, body)
	}
	var resp struct {
		Alarms []struct {
			Name       string  `xml:"AlarmName"`
			Threshold  float64 `xml:"Threshold"`
			Period     int     `xml:"Period"`
			Dimensions []struct {
				Name, Value string
			} `xml:"Dimensions>member"`
			Actions []string `xml:"AlarmActions>member"`
		} `xml:"DescribeAlarmsResult>MetricAlarms>member"`
		RequestID string `xml:"ResponseMetadata>RequestId"`
	}
	if err := xml.Unmarshal([]byte(body), &resp); err != nil {
		t.Fatal(err)
	}
	if len(resp.Alarms) != 1 || resp.Alarms[0].Threshold != 90.5 || resp.Alarms[0].Period != 60 ||
		len(resp.Alarms[0].Dimensions) != 1 || resp.Alarms[0].Dimensions[0].Value != "i-1" ||
		len(resp.Alarms[0].Actions) != 1 || resp.RequestID == "" {
		t.Errorf("describe result = %+v\n%s", resp, body)
	}
	code, body = post(url.Values{"Action": {"DeleteAlarms"}, "AlarmNames.member.1": {"missing"}})
	if code != 400 || !strings.Contains(body, "<Code>ResourceNotFound</Code>") || !strings.Contains(body, "<ErrorResponse") {
		t.Errorf("delete missing: %d %s", code, body)
	}
}
