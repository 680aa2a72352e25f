// propagation.go: giving a fresh role assignment time to take effect before the
// resource that needs it is created, and nothing when the assignment is old.

package infra

import (
	"context"
	"fmt"
	"time"

	"github.com/pulumi/pulumi-azure-native-sdk/authorization/v2"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// sleepFunc waits d, or until ctx ends. Tests replace it to see the waits asked for.
type sleepFunc func(ctx context.Context, d time.Duration) error

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// afterPropagation returns value once grant has existed for at least wait: the time
// Azure RBAC may take before a service that checks the grant sees it. Age is
// counted from the assignment's createdOn, as ARM reports it, so a grant made by
// an earlier run is old and costs nothing; only a create or replacement of the
// grant waits, for what is left of wait. The output carries the grant as a
// dependency, so whatever takes it is created after the grant and the wait.
//
// A preview waits for nothing: it sends no create.
func afterPropagation(ctx *pulumi.Context, grant *authorization.RoleAssignment, wait time.Duration,
	value pulumi.StringOutput, sleep sleepFunc) pulumi.StringOutput {
	return pulumi.All(grant.CreatedOn, value).ApplyTWithContext(ctx.Context(), func(c context.Context, v []any) (string, error) {
		createdOn, val := v[0].(string), v[1].(string)
		if ctx.DryRun() {
			return val, nil
		}
		rest, err := remainingPropagation(createdOn, time.Now(), wait)
		if err != nil {
			return "", err
		}
		if rest > 0 {
			_ = ctx.Log.Info(fmt.Sprintf("waiting %s for a new role assignment to take effect before the resource that needs it is created "+
				"(guestbook:grantPropagation = %s; a later run with the same assignment waits for nothing)", rest.Round(time.Second), wait),
				&pulumi.LogArgs{Resource: grant})
			if err := sleep(c, rest); err != nil {
				return "", fmt.Errorf("waiting for role assignment propagation: %w", err)
			}
		}
		return val, nil
	}).(pulumi.StringOutput)
}

// remainingPropagation is how much of wait is left at now for a role assignment
// that ARM says was created at createdOn (RFC 3339).
func remainingPropagation(createdOn string, now time.Time, wait time.Duration) (time.Duration, error) {
	created, err := time.Parse(time.RFC3339Nano, createdOn)
	if err != nil {
		return 0, fmt.Errorf("role assignment createdOn %q is not an RFC 3339 time: %w", createdOn, err)
	}
	return max(0, created.Add(wait).Sub(now)), nil
}
