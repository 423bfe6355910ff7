package ec2

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	awsec2 "github.com/aws/aws-sdk-go-v2/service/ec2"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
)

func testConfig() aws.Config {
	return aws.Config{Region: "us-east-1", Credentials: aws.AnonymousCredentials{}}
}

func TestNewDoesNotMutateConfig(t *testing.T) {
	cfg := testConfig()
	cfg.RetryMaxAttempts = 3
	before := cfg
	_ = New(cfg)
	if cfg.Retryer != nil || cfg.RetryMaxAttempts != 3 || cfg.RetryMode != before.RetryMode {
		t.Fatalf("New changed the caller's config: %+v", cfg)
	}
}

// Standard retries by default; adaptive only when asked for.
func TestNewRetryMode(t *testing.T) {
	for want, fn := range map[aws.RetryMode]func(*ClientOptions){
		aws.RetryModeStandard: nil,
		aws.RetryModeAdaptive: func(o *ClientOptions) { o.RetryMode = aws.RetryModeAdaptive },
	} {
		c := New(testConfig(), fn)
		for name, api := range map[string]any{"ec2": c.DescribeInstances, "autoscaling": c.DetachInstances, "elbv2": c.DeregisterTargets, "cloudwatch": c.PutMetricAlarm} {
			var got aws.RetryMode
			var r aws.Retryer
			switch cl := api.(type) {
			case *awsec2.Client:
				got, r = cl.Options().RetryMode, cl.Options().Retryer
			case *autoscaling.Client:
				got, r = cl.Options().RetryMode, cl.Options().Retryer
			case *elbv2.Client:
				got, r = cl.Options().RetryMode, cl.Options().Retryer
			case *cloudwatch.Client:
				got, r = cl.Options().RetryMode, cl.Options().Retryer
			}
			_, adaptive := r.(*retry.AdaptiveMode)
			if got != want || adaptive != (want == aws.RetryModeAdaptive) {
				t.Errorf("%s: retry mode %q (adaptive retryer %v), want %q", name, got, adaptive, want)
			}
		}
	}
}
