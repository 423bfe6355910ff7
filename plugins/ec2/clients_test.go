package ec2

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
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
