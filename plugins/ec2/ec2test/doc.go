// Package ec2test is an in-process AWS endpoint for tests and demos, in
// the style of net/http/httptest: NewServer starts it on a loopback port,
// URL names it, Config returns an aws.Config whose BaseEndpoint points at
// it, and Close stops it.
//
//	srv := ec2test.NewServer(ec2test.WithSnapshotDelay(2 * time.Second))
//	defer srv.Close()
//	client := ec2.NewFromConfig(srv.Config())
//
// It speaks the real wire protocols, so the unmodified aws-sdk-go-v2
// clients and the AWS CLI work against it: the EC2 Query protocol
// (form-encoded Action=…&Version=2016-11-15, EC2-flavoured XML with <item>
// lists and <Response><Errors> errors). Requests are routed by the SigV4
// credential scope's service name, then by API version and action.
//
// The account starts like a fresh one in any region: a default VPC
// (172.31.0.0/16) with a default subnet per availability zone and a
// default security group, and three public images (Amazon Linux 2023,
// Ubuntu 24.04, Debian 12) with EBS root devices. Instances launch with
// EBS root volumes and a primary network interface; snapshots go from
// pending to completed after WithSnapshotDelay.
//
// Fault injection (Faults, SetFaults): token-bucket throttling shaped
// like EC2's documented request-rate limits (DefaultRateLimits), a random
// fraction of throttles and of 5xx answers, eventual consistency for new
// resources, and failing snapshots. WithSeed makes ids and draws
// repeatable.
//
// Divergences from AWS: signatures are not verified; there is one
// account; key pairs and IAM instance profiles are not checked for
// existence; DescribeSnapshots without ids or owners lists only the
// account's own snapshots.
package ec2test
