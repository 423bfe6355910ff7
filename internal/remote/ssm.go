package remote

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
)

// SSMAPI is the part of the SSM client a Run uses.
type SSMAPI interface {
	SendCommand(ctx context.Context, in *ssm.SendCommandInput, optFns ...func(*ssm.Options)) (*ssm.SendCommandOutput, error)
	GetCommandInvocation(ctx context.Context, in *ssm.GetCommandInvocationInput, optFns ...func(*ssm.Options)) (*ssm.GetCommandInvocationOutput, error)
	ListCommands(ctx context.Context, in *ssm.ListCommandsInput, optFns ...func(*ssm.Options)) (*ssm.ListCommandsOutput, error)
	CancelCommand(ctx context.Context, in *ssm.CancelCommandInput, optFns ...func(*ssm.Options)) (*ssm.CancelCommandOutput, error)
	DescribeInstanceInformation(ctx context.Context, in *ssm.DescribeInstanceInformationInput, optFns ...func(*ssm.Options)) (*ssm.DescribeInstanceInformationOutput, error)
}

// S3API is the part of the S3 client staging and output use.
type S3API interface {
	PutObject(ctx context.Context, in *s3.PutObjectInput, optFns ...func(*s3.Options)) (*s3.PutObjectOutput, error)
	GetObject(ctx context.Context, in *s3.GetObjectInput, optFns ...func(*s3.Options)) (*s3.GetObjectOutput, error)
	HeadObject(ctx context.Context, in *s3.HeadObjectInput, optFns ...func(*s3.Options)) (*s3.HeadObjectOutput, error)
}

// Presigner makes the presigned GET URLs the instance fetches from.
type Presigner interface {
	PresignGetObject(ctx context.Context, in *s3.GetObjectInput, optFns ...func(*s3.PresignOptions)) (*v4.PresignedHTTPRequest, error)
}

// Binary is the program a Run starts on the instance.
type Binary struct {
	// SHA256 is the hex digest the instance checks before it runs the file.
	SHA256 string
	// URL is a presigned GET URL of the staged copy (from Stage); empty
	// when Path is already installed on the instance.
	URL string
	// Path, when URL is empty, is where the binary is installed on the
	// instance; it is checked against SHA256 in the same way.
	Path string
}

// SSM runs programs on one instance over Systems Manager Run Command.
type SSM struct {
	SSM       SSMAPI
	S3        S3API     // for large requests and outputs; may be nil without Bucket
	Presign   Presigner // for large requests; may be nil without Bucket
	Instance  string
	Binary    Binary
	Bucket    string // output bucket; "" = outputs over 24,000 characters fail with ErrOutputTruncated
	Prefix    string // key prefix in Bucket, e.g. "abusekit/INCIDENT"
	StageDir  string // where the instance keeps staged binaries; default /var/lib/abusekit/bin
	Logger    *slog.Logger
	MinPoll   time.Duration // first poll interval; default 500 ms
	MaxPoll   time.Duration // longest poll interval; default 5 s
	Delivery  time.Duration // how long a command may wait for the agent; default 10 min
	MaxInline int           // largest request embedded in the script; default 16 KiB
	// CancelGrace bounds how long a cancelled Run waits, after
	// CancelCommand, for the command to end on the instance (the program
	// gets SIGTERM and finishes its cleanup: a frozen process thawed, say);
	// default 10 s.
	CancelGrace time.Duration
}

const (
	stdoutLimit  = 24000 // characters of output GetCommandInvocation returns
	commentLimit = 100
)

var keyRE = regexp.MustCompile(`^[A-Za-z0-9._:/-]{1,80}$`)

func (t *SSM) comment(key string) string { return "abusekit " + key }

func (t *SSM) logger() *slog.Logger {
	if t.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return t.Logger
}

// Run runs the program with req on the instance and waits for it.
func (t *SSM) Run(ctx context.Context, req Request) (*Result, error) {
	if !keyRE.MatchString(req.Key) {
		return nil, fmt.Errorf("remote: request key %q: want 1-80 of [A-Za-z0-9._:/-]", req.Key)
	}
	if len(t.Binary.SHA256) != 64 {
		return nil, errors.New("remote: Binary.SHA256 must be a hex SHA-256")
	}
	res := &Result{Transport: "ssm", InstanceID: t.Instance}
	id, err := t.findSent(ctx, req.Key)
	if err != nil {
		return nil, err
	}
	if id != "" {
		res.Resumed = true
		t.logger().Info("remote: waiting for the command an earlier run sent", "command_id", id, "key", req.Key)
	} else {
		if err := t.checkAgent(ctx); err != nil {
			return nil, err
		}
		if id, err = t.send(ctx, req); err != nil {
			return nil, err
		}
	}
	res.CommandID = id
	inv, err := t.wait(ctx, id, req.Timeout)
	if err != nil {
		return res, err
	}
	return t.result(ctx, res, inv)
}

// findSent returns the id of a command already sent for key, newest first.
func (t *SSM) findSent(ctx context.Context, key string) (string, error) {
	want := t.comment(key)
	p := ssm.NewListCommandsPaginator(t.SSM, &ssm.ListCommandsInput{InstanceId: aws.String(t.Instance), MaxResults: aws.Int32(50)})
	for pages := 0; p.HasMorePages() && pages < 20; pages++ {
		out, err := p.NextPage(ctx)
		if err != nil {
			return "", fmt.Errorf("remote: list commands on %s: %w", t.Instance, classify(err))
		}
		for _, c := range out.Commands {
			if aws.ToString(c.Comment) == want && aws.ToString(c.DocumentName) == "AWS-RunShellScript" {
				return aws.ToString(c.CommandId), nil
			}
		}
	}
	return "", nil
}

func (t *SSM) checkAgent(ctx context.Context) error {
	out, err := t.SSM.DescribeInstanceInformation(ctx, &ssm.DescribeInstanceInformationInput{
		Filters: []ssmtypes.InstanceInformationStringFilter{{Key: aws.String("InstanceIds"), Values: []string{t.Instance}}}})
	if err != nil {
		return fmt.Errorf("remote: describe instance information of %s: %w", t.Instance, classify(err))
	}
	for _, ii := range out.InstanceInformationList {
		if aws.ToString(ii.InstanceId) != t.Instance {
			continue
		}
		if ii.PingStatus != ssmtypes.PingStatusOnline {
			return fmt.Errorf("remote: %s: agent %s since %s: %w", t.Instance, ii.PingStatus, aws.ToTime(ii.LastPingDateTime).Format(time.RFC3339), ErrAgentOffline)
		}
		if ii.PlatformType != "" && ii.PlatformType != ssmtypes.PlatformTypeLinux {
			return fmt.Errorf("remote: %s runs %s: %w", t.Instance, ii.PlatformType, ErrPlatformMismatch)
		}
		return nil
	}
	return fmt.Errorf("remote: %s: %w", t.Instance, ErrNotManaged)
}

func (t *SSM) send(ctx context.Context, req Request) (string, error) {
	script, err := t.script(ctx, req)
	if err != nil {
		return "", err
	}
	timeout := req.Timeout
	if timeout <= 0 {
		timeout = time.Hour
	}
	secs := int64((timeout + time.Second - 1) / time.Second)
	delivery := t.Delivery
	if delivery <= 0 {
		delivery = 10 * time.Minute
	}
	in := &ssm.SendCommandInput{
		DocumentName:   aws.String("AWS-RunShellScript"),
		InstanceIds:    []string{t.Instance},
		Comment:        aws.String(t.comment(req.Key)),
		TimeoutSeconds: aws.Int32(int32(max(30, delivery/time.Second))),
		Parameters: map[string][]string{
			"commands":         strings.Split(strings.TrimSuffix(script, "\n"), "\n"),
			"executionTimeout": {strconv.FormatInt(secs, 10)},
		},
	}
	if t.Bucket != "" {
		in.OutputS3BucketName = aws.String(t.Bucket)
		in.OutputS3KeyPrefix = aws.String(strings.Trim(t.Prefix+"/output", "/"))
	}
	out, err := t.SSM.SendCommand(ctx, in)
	if err != nil {
		return "", fmt.Errorf("remote: send command to %s: %w", t.Instance, classify(err))
	}
	id := aws.ToString(out.Command.CommandId)
	t.logger().Info("remote: command sent", "command_id", id, "instance", t.Instance, "key", req.Key)
	return id, nil
}

// wait polls the invocation until it ends.
func (t *SSM) wait(ctx context.Context, id string, timeout time.Duration) (*ssm.GetCommandInvocationOutput, error) {
	minPoll, maxPoll := t.MinPoll, t.MaxPoll
	if minPoll <= 0 {
		minPoll = 500 * time.Millisecond
	}
	if maxPoll < minPoll {
		maxPoll = max(5*time.Second, minPoll)
	}
	delay := minPoll
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			_, cerr := t.SSM.CancelCommand(cctx, &ssm.CancelCommandInput{CommandId: aws.String(id), InstanceIds: []string{t.Instance}})
			cancel()
			if cerr != nil {
				t.logger().Warn("remote: cancel command", "command_id", id, "err", cerr)
			} else {
				t.awaitEnd(context.WithoutCancel(ctx), id, minPoll)
			}
			return nil, fmt.Errorf("remote: command %s on %s: %w: %w", id, t.Instance, ErrCancelled, ctx.Err())
		case <-timer.C:
		}
		inv, err := t.SSM.GetCommandInvocation(ctx, &ssm.GetCommandInvocationInput{CommandId: aws.String(id), InstanceId: aws.String(t.Instance)})
		var dne *ssmtypes.InvocationDoesNotExist
		switch {
		case errors.As(err, &dne):
			// The service answers this for a short while after SendCommand.
		case err != nil && ctx.Err() == nil:
			return nil, fmt.Errorf("remote: command %s on %s: %w", id, t.Instance, classify(err))
		case err == nil:
			switch inv.Status {
			case ssmtypes.CommandInvocationStatusPending, ssmtypes.CommandInvocationStatusInProgress,
				ssmtypes.CommandInvocationStatusDelayed, ssmtypes.CommandInvocationStatusCancelling:
			case ssmtypes.CommandInvocationStatusTimedOut:
				return inv, fmt.Errorf("remote: command %s on %s: %s: %w", id, t.Instance, aws.ToString(inv.StatusDetails), ErrTimedOut)
			case ssmtypes.CommandInvocationStatusCancelled:
				return inv, fmt.Errorf("remote: command %s on %s was cancelled: %w", id, t.Instance, ErrCancelled)
			default:
				return inv, nil
			}
		}
		timer.Reset(delay)
		delay = min(delay*3/2, maxPoll)
	}
}

// awaitEnd polls a cancelled command until it has ended on the instance,
// at most CancelGrace.
func (t *SSM) awaitEnd(ctx context.Context, id string, poll time.Duration) {
	grace := t.CancelGrace
	if grace <= 0 {
		grace = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, grace)
	defer cancel()
	for {
		inv, err := t.SSM.GetCommandInvocation(ctx, &ssm.GetCommandInvocationInput{CommandId: aws.String(id), InstanceId: aws.String(t.Instance)})
		if err == nil {
			switch inv.Status {
			case ssmtypes.CommandInvocationStatusPending, ssmtypes.CommandInvocationStatusInProgress,
				ssmtypes.CommandInvocationStatusDelayed, ssmtypes.CommandInvocationStatusCancelling:
			default:
				return
			}
		}
		select {
		case <-ctx.Done():
			t.logger().Warn("remote: cancelled command still running after the grace period", "command_id", id, "grace", grace)
			return
		case <-time.After(poll):
		}
		poll = min(poll*3/2, time.Second)
	}
}

func (t *SSM) result(ctx context.Context, res *Result, inv *ssm.GetCommandInvocationOutput) (*Result, error) {
	res.ExitCode = int(inv.ResponseCode)
	res.Stderr = aws.ToString(inv.StandardErrorContent)
	out := []byte(aws.ToString(inv.StandardOutputContent))
	if utf8.RuneCount(out) >= stdoutLimit || !utf8.Valid(out) {
		if t.Bucket == "" || t.S3 == nil {
			return res, fmt.Errorf("remote: command %s: %w", res.CommandID, ErrOutputTruncated)
		}
		key := strings.Trim(t.Prefix+"/output", "/") + "/" + res.CommandID + "/" + t.Instance + "/awsrunShellScript/0.awsrunShellScript/stdout"
		obj, err := t.S3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(t.Bucket), Key: aws.String(key)})
		if err != nil {
			return res, fmt.Errorf("remote: command %s: read its output s3://%s/%s: %w", res.CommandID, t.Bucket, key, classify(err))
		}
		out, err = io.ReadAll(io.LimitReader(obj.Body, 1<<30))
		obj.Body.Close()
		if err != nil {
			return res, fmt.Errorf("remote: command %s: read its output: %w", res.CommandID, err)
		}
	}
	res.Stdout = out
	sum := sha256.Sum256(out)
	res.StdoutSHA256 = hex.EncodeToString(sum[:])
	switch {
	case res.ExitCode == 0:
		return res, nil
	case res.ExitCode == exitTampered:
		return res, fmt.Errorf("remote: %s: %s: %w", t.Instance, strings.TrimSpace(res.Stderr), ErrTampered)
	default:
		return res, &ExitError{Code: res.ExitCode, Stderr: res.Stderr}
	}
}

// classify wraps an AWS error with the transport's sentinel where one fits.
func classify(err error) error {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "AccessDeniedException", "AccessDenied", "UnauthorizedOperation":
			return fmt.Errorf("%w: %w", ErrAccessDenied, err)
		case "InvalidInstanceId":
			return fmt.Errorf("%w: %w", ErrNotManaged, err)
		}
	}
	return err
}

// script is the AWS-RunShellScript the instance runs.
func (t *SSM) script(ctx context.Context, req Request) (string, error) {
	dir := t.StageDir
	if dir == "" {
		dir = "/var/lib/abusekit/bin"
	}
	sum := strings.ToLower(t.Binary.SHA256)
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	w("# abusekit %s", req.Key)
	w("set -u")
	w("umask 077")
	w("%s", verifyFn)
	w("fetch() { if command -v curl >/dev/null 2>&1; then curl -fsS --retry 3 --max-time 900 -o \"$2\" \"$1\"; elif command -v wget >/dev/null 2>&1; then wget -q -T 900 -O \"$2\" \"$1\"; else echo 'abusekit: neither curl nor wget to fetch with' >&2; return 1; fi; }")
	if t.Binary.URL != "" {
		w("d=%s", quote(dir))
		w("mkdir -p \"$d\" && chmod 700 \"$d\" || exit %d", exitStaging)
		w("b=\"$d/abusekit-%s\"", sum)
		// One digest per run: the staged copy is checked, and a fetched one
		// is checked before it takes the staged copy's name.
		w("if ! verify \"$b\" %s; then", sum)
		w("  rm -f \"$b.part\"")
		w("  fetch %s \"$b.part\" || { echo 'abusekit: cannot fetch the staged binary' >&2; exit %d; }", quote(t.Binary.URL), exitFetch)
		w("  verify \"$b.part\" %s || { rm -f \"$b.part\"; echo \"abusekit: the staged binary does not match SHA-256 %s\" >&2; exit %d; }", sum, sum, exitTampered)
		w("  chmod 700 \"$b.part\" && mv -f \"$b.part\" \"$b\" || exit %d", exitStaging)
		w("fi")
	} else {
		if t.Binary.Path == "" {
			return "", errors.New("remote: Binary needs a URL or an installed Path")
		}
		w("b=%s", quote(t.Binary.Path))
		w("verify \"$b\" %s || { echo \"abusekit: $b does not match SHA-256 %s\" >&2; exit %d; }", sum, sum, exitTampered)
	}
	w("r=$(mktemp) || exit %d", exitStaging)
	w("trap 'rm -f \"$r\"' EXIT")
	maxInline := t.MaxInline
	if maxInline <= 0 {
		maxInline = 16 << 10
	}
	if len(req.Stdin) <= maxInline {
		enc := base64.StdEncoding.EncodeToString(req.Stdin)
		for len(enc) > 0 { // lines of at most 4 KiB
			n := min(len(enc), 4096)
			w("printf '%%s' %s >> \"$r.b64\"", enc[:n])
			enc = enc[n:]
		}
		w("touch \"$r.b64\"; base64 -d < \"$r.b64\" > \"$r\"; rc=$?; rm -f \"$r.b64\"; [ $rc -eq 0 ] || exit %d", exitFetch)
	} else {
		url, rsum, err := t.stageRequest(ctx, req)
		if err != nil {
			return "", err
		}
		w("fetch %s \"$r\" || { echo 'abusekit: cannot fetch the request' >&2; exit %d; }", quote(url), exitFetch)
		w("verify \"$r\" %s || { echo 'abusekit: the request does not match its SHA-256' >&2; exit %d; }", rsum, exitTampered)
	}
	line, err := programLine(req, "\"$b\"", false)
	if err != nil {
		return "", err
	}
	w("%s < \"$r\"", line)
	return b.String(), nil
}

// stageRequest uploads a large request and returns a presigned URL to it
// and its digest.
func (t *SSM) stageRequest(ctx context.Context, req Request) (url, sum string, err error) {
	if t.Bucket == "" || t.S3 == nil || t.Presign == nil {
		return "", "", fmt.Errorf("remote: request of %d bytes is too large to embed and there is no bucket to stage it in", len(req.Stdin))
	}
	h := sha256.Sum256(req.Stdin)
	sum = hex.EncodeToString(h[:])
	key := strings.Trim(t.Prefix+"/requests", "/") + "/" + sum
	if _, err := t.S3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(t.Bucket), Key: aws.String(key), Body: bytes.NewReader(req.Stdin)}); err != nil {
		return "", "", fmt.Errorf("remote: stage request: %w", classify(err))
	}
	p, err := t.Presign.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(t.Bucket), Key: aws.String(key)},
		s3.WithPresignExpires(2*time.Hour))
	if err != nil {
		return "", "", fmt.Errorf("remote: presign request: %w", err)
	}
	return p.URL, sum, nil
}

// knownPayloadHash signs a PUT with a SHA-256 of its body already
// computed (the staged binary's digest) instead of hashing the body again,
// and asks for no other checksum: S3 checks the body against the signed
// x-amz-content-sha256, which is the very digest the instance checks.
func knownPayloadHash(sum string) func(*s3.Options) {
	return func(o *s3.Options) {
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		o.APIOptions = append(o.APIOptions, func(stack *middleware.Stack) error {
			return stack.Finalize.Insert(middleware.FinalizeMiddlewareFunc("abusekitKnownPayloadHash",
				func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
					return next.HandleFinalize(v4.SetPayloadHash(ctx, sum), in)
				}), "ComputePayloadHash", middleware.Before)
		})
	}
}

// Stage uploads the binary at path to bucket under prefix (content
// addressed by its SHA-256; an object already there with the same size is
// not uploaded again) and returns the Binary that fetches it, with a
// presigned URL valid for expires. The file is read once: what is hashed
// is what is uploaded.
func Stage(ctx context.Context, api S3API, presign Presigner, bucket, prefix, path string, expires time.Duration) (Binary, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Binary{}, fmt.Errorf("remote: stage: %w", err)
	}
	h := sha256.Sum256(data)
	sum := hex.EncodeToString(h[:])
	key := strings.Trim(prefix+"/bin", "/") + "/abusekit-" + sum
	head, err := api.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil || aws.ToInt64(head.ContentLength) != int64(len(data)) {
		if _, err := api.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(data)},
			knownPayloadHash(sum)); err != nil {
			return Binary{}, fmt.Errorf("remote: stage %s to s3://%s/%s: %w", path, bucket, key, classify(err))
		}
	}
	p, err := presign.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)}, s3.WithPresignExpires(expires))
	if err != nil {
		return Binary{}, fmt.Errorf("remote: presign the staged binary: %w", err)
	}
	return Binary{SHA256: sum, URL: p.URL}, nil
}
