package ec2test

import (
	"strings"
	"time"
)

// The request and resource token buckets below follow AWS's published
// table, "Request throttling for the Amazon EC2 API"
// (https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-throttling.html,
// formerly https://docs.aws.amazon.com/AWSEC2/latest/APIReference/throttling.html;
// read 2026-12-07). What the page says, and how the emulator follows it:
//
//   - EC2 throttles per account and per Region, and each API is evaluated
//     individually: every action has a bucket of its own, of its
//     category's size and refill rate. The emulator keys each bucket by
//     account, the Region of the request's SigV4 credential scope (the
//     server's Region when unsigned) and action.
//   - Non-mutating (Describe*, List*, Search*, Get*): 100 tokens, 20/s.
//   - Unfiltered and unpaginated non-mutating: seven named Describe
//     actions, when called with neither a filter nor pagination, draw on
//     a smaller bucket: 50, 10/s. The page names filters and pagination
//     only; the emulator therefore counts a call that names ids but no
//     Filter, MaxResults or NextToken as unfiltered (not confirmed either
//     way by AWS).
//   - Mutating (everything else): 50, 5/s.
//   - Resource-intensive (nine named mutating actions): 50, 5/s, a
//     bucket separate from the mutating one.
//   - Uncategorized: actions with sizes and rates of their own
//     (RunInstances 5, 2/s; StartInstances 5, 2/s; TerminateInstances
//     100, 5/s; CreateTags 100, 10/s; ...): uncategorized below.
//   - Console non-mutating (100, 10/s) applies to calls made by the EC2
//     console; the emulator cannot tell them and does not model it.
//   - Resource buckets, drawn by the number of instances a call affects,
//     on top of the request bucket: RunInstances 1000, 2/s;
//     TerminateInstances 1000, 20/s; StartInstances 1000, 2/s;
//     StopInstances 1000, 20/s.
//
// Auto Scaling, Elastic Load Balancing, CloudWatch and IAM have their own
// limits, which this table does not give; the emulator puts them in
// CategoryOther (100, 20/s), a value not confirmed by AWS.

// Bucket is one token bucket: Size tokens at most, Refill tokens added
// per second.
type Bucket struct {
	Size   float64
	Refill float64
}

// RateLimits maps a category (Category*) or an action name to a bucket
// shape. Each action has a bucket of its own: the shape of its entry by
// name if there is one, else that of its category. Entries with
// ResourcePrefix meter instances rather than requests.
type RateLimits map[string]Bucket

// Categories of API actions for rate limiting, as AWS names them.
const (
	CategoryNonMutating   = "non-mutating"       // Describe*, Get*, List*, Search*
	CategoryUnfiltered    = "unfiltered"         // the seven named Describe* without filter or pagination
	CategoryMutating      = "mutating"           // all other EC2 actions
	CategoryResourceHeavy = "resource-intensive" // the nine named mutating actions
	CategoryUncategorized = "uncategorized"      // actions with a bucket of their own (uncategorized)
	CategoryOther         = "other"              // Auto Scaling, ELBv2, CloudWatch, IAM
)

// ResourcePrefix marks RateLimits entries that meter instances rather
// than requests: "resource:RunInstances" is drawn by MaxCount, the
// others by the number of InstanceId values. A request that finds too
// few tokens fails with RequestResourceCountExceeded (HTTP 503).
const ResourcePrefix = "resource:"

// unfilteredActions are the non-mutating actions that, called without a
// filter or pagination, draw on the smaller unfiltered bucket.
var unfilteredActions = map[string]bool{
	"DescribeInstances": true, "DescribeInstanceStatus": true, "DescribeNetworkInterfaces": true,
	"DescribeSecurityGroups": true, "DescribeSnapshots": true, "DescribeSpotInstanceRequests": true,
	"DescribeVolumes": true,
}

// resourceIntensive are the actions AWS lists as resource-intensive.
// (Egress rules and Spot Fleet calls are not among them: mutating.)
var resourceIntensive = map[string]bool{
	"AcceptVpcPeeringConnection": true, "AuthorizeSecurityGroupIngress": true,
	"CancelSpotInstanceRequests": true, "CreateKeyPair": true, "CreateVpcPeeringConnection": true,
	"DeleteVpcPeeringConnection": true, "RejectVpcPeeringConnection": true,
	"RevokeSecurityGroupIngress": true, "RequestSpotInstances": true,
}

// uncategorized is AWS's table of actions with buckets of their own
// (maximum capacity, refill per second), in full.
var uncategorized = map[string]Bucket{
	"AcceptVpcEndpointConnections": {10, 1}, "AdvertiseByoipCidr": {1, 0.1},
	"AssignIpv6Addresses": {100, 5}, "AssignPrivateIpAddresses": {100, 5},
	"AssignPrivateNatGatewayAddress": {10, 1}, "AssociateCapacityReservationBillingOwner": {1, 0.5},
	"AssociateEnclaveCertificateIamRole": {10, 1}, "AssociateIamInstanceProfile": {100, 5},
	"AssociateNatGatewayAddress": {10, 1}, "AttachVerifiedAccessTrustProvider": {10, 2},
	"AuthorizeClientVpnIngress": {5, 2}, "CancelDeclarativePoliciesReport": {1, 1},
	"CopyImage": {100, 1}, "CreateClientVpnRoute": {5, 2}, "CreateCoipCidr": {5, 1},
	"CreateCoipPool": {5, 1}, "CreateDefaultSubnet": {1, 1}, "CreateDefaultVpc": {1, 1},
	"CreateLaunchTemplateVersion": {100, 5}, "CreateNatGateway": {10, 1},
	"CreateNetworkInterface": {100, 5}, "CreateRestoreImageTask": {50, 0.1},
	"CreateSnapshot": {100, 5}, "CreateSnapshots": {100, 5},
	"CreateSpotDatafeedSubscription": {50, 3}, "CreateStoreImageTask": {50, 0.1},
	"CreateSubnetCidrReservation": {5, 1}, "CreateTags": {100, 10},
	"CreateVerifiedAccessEndpoint": {20, 4}, "CreateVerifiedAccessGroup": {10, 2},
	"CreateVerifiedAccessInstance": {10, 2}, "CreateVerifiedAccessTrustProvider": {10, 2},
	"CreateVolume": {100, 5}, "CreateVpcEndpoint": {4, 0.3},
	"CreateVpcEndpointServiceConfiguration": {10, 1}, "DeleteClientVpnRoute": {5, 2},
	"DeleteCoipCidr": {5, 1}, "DeleteCoipPool": {5, 1}, "DeleteCoipPoolPermission": {5, 1},
	"DeleteNatGateway": {10, 1}, "DeleteNetworkInterface": {100, 5}, "DeleteSnapshot": {100, 5},
	"DeleteSpotDatafeedSubscription": {50, 3}, "DeleteSubnetCidrReservation": {5, 1},
	"DeleteQueuedReservedInstances": {5, 5}, "DeleteTags": {100, 10},
	"DeleteVerifiedAccessEndpoint": {20, 4}, "DeleteVerifiedAccessGroup": {10, 2},
	"DeleteVerifiedAccessInstance": {10, 2}, "DeleteVerifiedAccessTrustProvider": {10, 2},
	"DeleteVolume": {100, 5}, "DeleteVpcEndpoints": {4, 0.3},
	"DeleteVpcEndpointServiceConfigurations": {10, 1}, "DeprovisionByoipCidr": {1, 0.1},
	"DeregisterImage": {100, 5}, "DescribeAggregateIdFormat": {10, 10},
	"DescribeByoipCidrs": {1, 0.5}, "DescribeCapacityBlockExtensionOfferings": {10, 0.15},
	"DescribeCapacityBlockOfferings": {10, 0.15}, "DescribeDeclarativePoliciesReports": {5, 5},
	"DescribeHostReservations": {5, 2}, "DescribeHostReservationOfferings": {5, 2},
	"DescribeIdentityIdFormat": {10, 10}, "DescribeIdFormat": {10, 10},
	"DescribeInstanceTopology": {1, 1}, "DescribeMovingAddresses": {1, 1},
	"DescribePrincipalIdFormat": {10, 10}, "DescribeReservedInstancesOfferings": {10, 10},
	"DescribeSecurityGroupReferences": {20, 5}, "DescribeSpotDatafeedSubscription": {100, 13},
	"DescribeSpotFleetInstances": {100, 5}, "DescribeSpotFleetRequestHistory": {100, 5},
	"DescribeSpotFleetRequests": {50, 3}, "DescribeStaleSecurityGroups": {20, 5},
	"DescribeStoreImageTasks": {50, 0.5}, "DescribeVerifiedAccessInstanceLoggingConfigurations": {10, 2},
	"DetachVerifiedAccessTrustProvider": {10, 2}, "DisableFastLaunch": {5, 2},
	"DisableImageBlockPublicAccess": {1, 0.1}, "DisableSnapshotBlockPublicAccess": {1, 0.1},
	"DisassociateCapacityReservationBillingOwner": {1, 0.5}, "DisassociateEnclaveCertificateIamRole": {10, 1},
	"DisassociateIamInstanceProfile": {100, 5}, "DisassociateNatGatewayAddress": {10, 1},
	"EnableFastLaunch": {5, 2}, "EnableImageBlockPublicAccess": {1, 0.1},
	"EnableSnapshotBlockPublicAccess": {1, 0.1}, "GetAssociatedEnclaveCertificateIamRoles": {10, 1},
	"GetDeclarativePoliciesReportSummary": {5, 5}, "GetHostReservationPurchasePreview": {5, 2},
	"ModifyImageAttribute": {100, 5}, "ModifyInstanceMetadataDefaults": {2, 2},
	"ModifyInstanceMetadataOptions": {100, 5}, "ModifyLaunchTemplate": {100, 5},
	"ModifyNetworkInterfaceAttribute": {100, 5}, "ModifySnapshotAttribute": {100, 5},
	"ModifyVerifiedAccessEndpoint": {20, 4}, "ModifyVerifiedAccessEndpointPolicy": {20, 4},
	"ModifyVerifiedAccessGroup": {10, 2}, "ModifyVerifiedAccessGroupPolicy": {20, 4},
	"ModifyVerifiedAccessInstance": {10, 2}, "ModifyVerifiedAccessInstanceLoggingConfiguration": {10, 2},
	"ModifyVerifiedAccessTrustProvider": {10, 2}, "ModifyVpcEndpoint": {4, 0.3},
	"ModifyVpcEndpointServiceConfiguration": {10, 1}, "MoveAddressToVpc": {1, 1},
	"ProvisionByoipCidr": {1, 0.1}, "PurchaseCapacityBlock": {10, 0.15},
	"PurchaseCapacityBlockExtension": {10, 0.15}, "PurchaseHostReservation": {5, 2},
	"PurchaseReservedInstancesOffering": {5, 5}, "RejectVpcEndpointConnections": {10, 1},
	"RestoreAddressToClassic": {1, 1}, "RevokeClientVpnIngress": {5, 2},
	"RunInstances": {5, 2}, "StartDeclarativePoliciesReport": {1, 1},
	"StartInstances": {5, 2}, "TerminateInstances": {100, 5},
	"UnassignPrivateIpAddresses": {100, 5}, "UnassignPrivateNatGatewayAddress": {10, 1},
	"WithdrawByoipCidr": {1, 0.1},
}

// DefaultRateLimits returns AWS's published EC2 request and resource
// token buckets (see the top of ratelimits.go): the four categories the
// emulator can tell, every uncategorized action by name, and the
// instance resource buckets; the other services get CategoryOther.
func DefaultRateLimits() RateLimits {
	l := RateLimits{
		CategoryNonMutating:                   {Size: 100, Refill: 20},
		CategoryUnfiltered:                    {Size: 50, Refill: 10},
		CategoryMutating:                      {Size: 50, Refill: 5},
		CategoryResourceHeavy:                 {Size: 50, Refill: 5},
		CategoryOther:                         {Size: 100, Refill: 20},
		ResourcePrefix + "RunInstances":       {Size: 1000, Refill: 2},
		ResourcePrefix + "TerminateInstances": {Size: 1000, Refill: 20},
		ResourcePrefix + "StartInstances":     {Size: 1000, Refill: 2},
		ResourcePrefix + "StopInstances":      {Size: 1000, Refill: 20},
	}
	for a, b := range uncategorized {
		l[a] = b
	}
	return l
}

// Scaled returns the limits with every size and refill rate multiplied
// by f, for benchmarks that keep the shape but not the wall-clock time.
func (l RateLimits) Scaled(f float64) RateLimits {
	out := make(RateLimits, len(l))
	for k, b := range l {
		out[k] = Bucket{Size: b.Size * f, Refill: b.Refill * f}
	}
	return out
}

// For returns the request bucket shape an action draws on: its entry by
// name (EC2's uncategorized names apply to EC2 only: Auto Scaling's
// DeleteTags is not EC2's), else its category's. unfiltered is as for
// Category. Benchmarks use it to compute the floor the limits allow.
func (l RateLimits) For(service, action string, unfiltered bool) (Bucket, bool) {
	if b, ok := l[action]; ok && (service == "ec2" || uncategorized[action] == (Bucket{})) {
		return b, true
	}
	b, ok := l[Category(service, action, unfiltered)]
	return b, ok
}

// Category returns the rate-limit category of an action as AWS's table
// puts it. unfiltered tells a call made with neither a filter nor
// pagination; it matters only for the seven actions of
// CategoryUnfiltered.
func Category(service, action string, unfiltered bool) string {
	if service != "ec2" {
		return CategoryOther
	}
	switch {
	case uncategorized[action] != (Bucket{}):
		return CategoryUncategorized
	case resourceIntensive[action]:
		return CategoryResourceHeavy
	case unfilteredActions[action] && unfiltered:
		return CategoryUnfiltered
	case strings.HasPrefix(action, "Describe") || strings.HasPrefix(action, "Get") ||
		strings.HasPrefix(action, "List") || strings.HasPrefix(action, "Search"):
		return CategoryNonMutating
	}
	return CategoryMutating
}

type bucket struct {
	tokens float64
	last   time.Time
	b      Bucket
}

func (k *bucket) take(now time.Time) bool { return k.takeN(now, 1) }

func (k *bucket) takeN(now time.Time, n float64) bool {
	if el := now.Sub(k.last).Seconds(); el > 0 {
		k.tokens += el * k.b.Refill
		if k.tokens > k.b.Size {
			k.tokens = k.b.Size
		}
		k.last = now
	}
	if k.tokens >= n {
		k.tokens -= n
		return true
	}
	return false
}

// resourceCount is how many instance tokens a request draws.
func resourceCount(action string, q *qnode) float64 {
	if q == nil {
		return 0
	}
	if action == "RunInstances" {
		n, _, err := q.integer("MaxCount")
		if err != nil || n < 1 {
			return 1
		}
		return float64(n)
	}
	return float64(len(q.list("InstanceId")))
}

// unfilteredQuery tells a request with neither a filter nor pagination.
func unfilteredQuery(q *qnode) bool {
	if q == nil {
		return true
	}
	for _, k := range []string{"Filter", "MaxResults", "NextToken"} {
		if q.child(k) != nil {
			return false
		}
	}
	return true
}

// credRegion returns the Region of a SigV4 credential scope:
// "Credential=AKID/20260101/eu-west-1/ec2/aws4_request" -> "eu-west-1".
func credRegion(auth string) string {
	i := strings.Index(auth, "Credential=")
	if i < 0 {
		return ""
	}
	cred := auth[i+len("Credential="):]
	if j := strings.IndexAny(cred, ", "); j >= 0 {
		cred = cred[:j]
	}
	parts := strings.Split(cred, "/")
	if len(parts) != 5 {
		return ""
	}
	return parts[2]
}

// bucketLocked returns the bucket under key, full at first use;
// s.faultsMu is held.
func (s *Server) bucketLocked(key string, spec Bucket, now time.Time) *bucket {
	bk := s.buckets[key]
	if bk == nil || bk.b != spec {
		bk = &bucket{tokens: spec.Size, last: now, b: spec}
		s.buckets[key] = bk
	}
	return bk
}

// takeTokensLocked draws the request token, then the resource tokens, of
// one request; s.faultsMu is held. It reports a throttled request, or the
// RequestResourceCountExceeded error.
func (s *Server) takeTokensLocked(service, region, action string, q *qnode) (bool, *apiError) {
	if region == "" {
		region = s.opts.region
	}
	unf := unfilteredActions[action] && unfilteredQuery(q)
	cat := Category(service, action, unf)
	prefix := AccountID + "/" + region + "/"
	now := s.now()
	spec, ok := s.opts.limits.For(service, action, unf)
	if ok && spec.Size > 0 {
		key := prefix + service + "/" + action
		if cat == CategoryUnfiltered {
			key += "/unfiltered"
		}
		if !s.bucketLocked(key, spec, now).take(now) {
			return true, nil
		}
	}
	if service != "ec2" {
		return false, nil
	}
	rspec, ok := s.opts.limits[ResourcePrefix+action]
	if !ok || rspec.Size <= 0 {
		return false, nil
	}
	if n := resourceCount(action, q); n > 0 && !s.bucketLocked(prefix+ResourcePrefix+action, rspec, now).takeN(now, n) {
		return false, &apiError{status: 503, code: "RequestResourceCountExceeded",
			msg: "Request resource count exceeded: " + action + " would use more instance tokens than are available."}
	}
	return false, nil
}
