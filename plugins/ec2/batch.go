package ec2

import (
	"context"
	"errors"
	"slices"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsec2 "github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// describeBatch is how many ids go into one filtered Describe call.
const describeBatch = 200

func chunks[T any](s []T, n int) [][]T {
	var out [][]T
	for len(s) > n {
		out = append(out, s[:n])
		s = s[n:]
	}
	if len(s) > 0 {
		out = append(out, s)
	}
	return out
}

// forEach runs fn on every item with at most n in flight and joins the
// errors. It stops starting new items once ctx is done.
func forEach[T any](ctx context.Context, n int, items []T, fn func(context.Context, T) error) error {
	if n <= 0 {
		n = 1
	}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
		sem  = make(chan struct{}, n)
	)
	for _, it := range items {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			mu.Lock()
			errs = append(errs, ctx.Err())
			mu.Unlock()
			wg.Wait()
			return errors.Join(errs...)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := fn(ctx, it); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func dedupe(ids []string) []string {
	out := make([]string, 0, len(ids))
	seen := make(map[string]bool, len(ids))
	for _, id := range ids {
		if id != "" && !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

// describeInstances fetches instances by id through the instance-id filter
// (so one missing id does not fail the batch) in batches of describeBatch,
// paginated. Missing ids come back in missing; terminated instances count
// as missing.
func describeInstances(ctx context.Context, api DescribeInstancesAPI, ids []string) (map[string]types.Instance, []string, error) {
	got := make(map[string]types.Instance, len(ids))
	for _, b := range chunks(ids, describeBatch) {
		in := &awsec2.DescribeInstancesInput{
			Filters:    []types.Filter{{Name: aws.String("instance-id"), Values: b}},
			MaxResults: aws.Int32(1000),
		}
		p := awsec2.NewDescribeInstancesPaginator(api, in)
		for p.HasMorePages() {
			out, err := p.NextPage(ctx)
			if err != nil {
				return nil, nil, err
			}
			for _, r := range out.Reservations {
				for _, inst := range r.Instances {
					if inst.State != nil && inst.State.Name == types.InstanceStateNameTerminated {
						continue
					}
					got[aws.ToString(inst.InstanceId)] = inst
				}
			}
		}
	}
	var missing []string
	for _, id := range ids {
		if _, ok := got[id]; !ok {
			missing = append(missing, id)
		}
	}
	return got, missing, nil
}

func describeGroups(ctx context.Context, api DescribeSecurityGroupsAPI, filters []types.Filter) ([]types.SecurityGroup, error) {
	var out []types.SecurityGroup
	p := awsec2.NewDescribeSecurityGroupsPaginator(api, &awsec2.DescribeSecurityGroupsInput{Filters: filters, MaxResults: aws.Int32(1000)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		out = append(out, page.SecurityGroups...)
	}
	return out, nil
}

func describeGroupsByID(ctx context.Context, api DescribeSecurityGroupsAPI, ids []string) (map[string]types.SecurityGroup, error) {
	m := map[string]types.SecurityGroup{}
	for _, b := range chunks(dedupe(ids), describeBatch) {
		gs, err := describeGroups(ctx, api, []types.Filter{{Name: aws.String("group-id"), Values: b}})
		if err != nil {
			return nil, err
		}
		for _, g := range gs {
			m[aws.ToString(g.GroupId)] = g
		}
	}
	return m, nil
}

// incidentSnapshots lists every snapshot tagged with this incident and step.
func incidentSnapshots(ctx context.Context, api DescribeSnapshotsAPI, incident string) ([]types.Snapshot, error) {
	var out []types.Snapshot
	p := awsec2.NewDescribeSnapshotsPaginator(api, &awsec2.DescribeSnapshotsInput{
		OwnerIds: []string{"self"},
		Filters: []types.Filter{
			{Name: aws.String("tag:" + TagIncident), Values: []string{incident}},
			{Name: aws.String("tag:" + TagStep), Values: []string{stepSnapshot}},
		},
		MaxResults: aws.Int32(1000),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		out = append(out, page.Snapshots...)
	}
	return out, nil
}

func tagValue(tags []types.Tag, key string) string {
	for _, t := range tags {
		if aws.ToString(t.Key) == key {
			return aws.ToString(t.Value)
		}
	}
	return ""
}

func instanceGroups(inst types.Instance) []string {
	var ids []string
	for _, g := range inst.SecurityGroups {
		ids = append(ids, aws.ToString(g.GroupId))
	}
	for _, eni := range inst.NetworkInterfaces {
		for _, g := range eni.Groups {
			ids = append(ids, aws.ToString(g.GroupId))
		}
	}
	ids = dedupe(ids)
	slices.Sort(ids)
	return ids
}
