// deploytime.go: how long a first deploy takes under the real engine, with
// Azure's typical create times scaled down, for this stack's order and for the
// original project's (AcrPull granted only after the cluster exists).

package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optremove"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/guestbook-aks/guestbook/tests/e2e/sim"
)

// benchScale is the wall time of one simulated second when measuring: coarse
// enough that the engine's own overhead (tens of milliseconds a step) stays a
// few simulated seconds.
const benchScale = 10 * time.Millisecond

// DeployTime is one measured first deploy.
type DeployTime struct {
	Order       string
	Propagation time.Duration // simulated
	// RolledOut is the simulated time from the resource group's create to the
	// end of the Deployment's create (the provider's rollout await).
	RolledOut time.Duration
	// Floor is resource group + cluster + user pool + rollout: no order can do
	// better (the pool needs the cluster, the pods need the pool).
	Floor time.Duration
	// Bound is what any order that gives a new Managed Identity Operator grant
	// the program's wait before the cluster's create can do at best: resource
	// group, identity, grant, wait, cluster, user pool, rollout.
	Bound time.Duration
	// Refused counts pulls the registry refused; HeadStart is how long before the
	// first pull the AcrPull assignment existed (negative: after).
	Refused   int
	HeadStart time.Duration
}

// Ratio is RolledOut over Floor.
func (d DeployTime) Ratio() float64 { return float64(d.RolledOut) / float64(d.Floor) }

// BoundRatio is RolledOut over Bound.
func (d DeployTime) BoundRatio() float64 { return float64(d.RolledOut) / float64(d.Bound) }

// MeasureDeployOrder deploys program from scratch once per order and RBAC
// propagation delay, and destroys it after each. grantWait is the program's
// guestbook:grantPropagation default, which every deploy runs with.
func MeasureDeployOrder(t *testing.T, program pulumi.RunFunc, propagations []time.Duration, grantWait time.Duration) []DeployTime {
	ctx := context.Background()
	h := startT(t, program, benchScale, "", grantWait)
	floor := time.Duration(TypicalLatency["ResourceGroup"]+TypicalLatency["ManagedCluster"]+TypicalLatency["AgentPool"])*time.Second + TypicalRollout
	bound := floor + grantWait +
		time.Duration(TypicalLatency["UserAssignedIdentity"]+TypicalLatency["RoleAssignment"])*time.Second
	var rows []DeployTime
	for _, order := range []struct {
		name    string
		program pulumi.RunFunc
	}{
		{"this stack", program},
		{"original (AcrPull after the cluster)", grantAfterCluster(program)},
	} {
		for _, p := range propagations {
			row, err := h.measure(ctx, order.name, order.program, p)
			if err != nil {
				t.Fatalf("%s, propagation %s: %v", order.name, p, err)
			}
			row.Floor, row.Bound = floor, bound
			t.Logf("%-38s propagation %5s: rolled out at %6.0f s, %.3f × floor, %.3f × bound, %d refused pulls, head start %4.0f s",
				row.Order, p, row.RolledOut.Seconds(), row.Ratio(), row.BoundRatio(), row.Refused, row.HeadStart.Seconds())
			rows = append(rows, row)
		}
	}
	return rows
}

// measure runs one first deploy and destroys it.
func (h *Harness) measure(ctx context.Context, order string, program pulumi.RunFunc, propagation time.Duration) (DeployTime, error) {
	row := DeployTime{Order: order, Propagation: propagation}
	lat, err := h.Cloud.Latency()
	if err != nil {
		return row, err
	}
	lat.Propagation = propagation.Seconds()
	if err := h.Cloud.SetLatency(lat); err != nil {
		return row, err
	}
	h.Pulls.Reset()
	name := fmt.Sprintf("bench-%d", time.Now().UnixNano())
	st, err := h.Stack(ctx, name, program)
	if err != nil {
		return row, err
	}
	defer func() { _ = st.Workspace().RemoveStack(ctx, name, optremove.Force()) }()
	if err := st.SetConfig(ctx, "azure-native:location", auto.ConfigValue{Value: "japaneast"}); err != nil {
		return row, err
	}
	opsBefore, err := h.Cloud.Operations()
	if err != nil {
		return row, err
	}
	r := h.Up(ctx, st, "measure")
	if r.Err != nil {
		return row, fmt.Errorf("up: %w\n%s", r.Err, r.Diagnostics())
	}
	ops, err := h.Cloud.Operations()
	if err != nil {
		return row, err
	}
	var start, granted time.Time
	for _, op := range ops[len(opsBefore):] {
		if op.Kind != sim.OpCreate || op.Preview {
			continue
		}
		if strings.HasSuffix(op.Token, ":ResourceGroup") && start.IsZero() {
			start = op.Start
		}
		if strings.HasSuffix(op.Token, ":RoleAssignment") && strings.Contains(op.URN, "acr-pull") {
			granted = op.End
		}
	}
	var rolledOut time.Time
	for _, e := range r.Events {
		if out := e.ResOutputsEvent; out != nil && strings.HasSuffix(out.Metadata.URN, "kubernetes:apps/v1:Deployment::guestbook-app") {
			rolledOut = e.Received
		}
	}
	if start.IsZero() || granted.IsZero() || rolledOut.IsZero() {
		return row, fmt.Errorf("incomplete timeline: resource group %v, AcrPull %v, rollout %v", start, granted, rolledOut)
	}
	row.RolledOut = toSimulated(rolledOut.Sub(start), benchScale)
	var firstPull time.Time
	for _, a := range h.Pulls.Attempts() {
		if !strings.Contains(a.Image, ".azurecr.io/") {
			continue
		}
		if firstPull.IsZero() {
			firstPull = a.At
		}
		if !a.Granted {
			row.Refused++
		}
	}
	if !firstPull.IsZero() {
		row.HeadStart = toSimulated(firstPull.Sub(granted), benchScale)
	}
	if d := h.Destroy(ctx, st, "measure"); d.Err != nil {
		return row, fmt.Errorf("destroy: %w", d.Err)
	}
	return row, nil
}

func toSimulated(d, scale time.Duration) time.Duration {
	return time.Duration(float64(d) / float64(scale) * float64(time.Second)).Round(time.Second)
}

// grantAfterCluster wraps program so the engine sees the original project's
// order: the AcrPull assignment is made only once the cluster exists (there the
// kubelet identity was the one AKS creates, known only then). The program itself
// is unchanged: a stack transformation, run by the SDK as each resource is
// declared, makes the assignment depend on the cluster, which the program
// declares after it, through an output resolved when the cluster is declared.
func grantAfterCluster(program pulumi.RunFunc) pulumi.RunFunc {
	return func(ctx *pulumi.Context) error {
		cluster, resolve, _ := ctx.NewOutput()
		deps := cluster.ApplyT(func(c any) []pulumi.Resource {
			return []pulumi.Resource{c.(pulumi.Resource)}
		}).(pulumi.ResourceArrayOutput)
		if err := ctx.RegisterStackTransformation(func(args *pulumi.ResourceTransformationArgs) *pulumi.ResourceTransformationResult {
			switch {
			case strings.HasSuffix(args.Type, ":ManagedCluster"):
				resolve(args.Resource)
			case strings.HasSuffix(args.Type, ":RoleAssignment") && strings.HasSuffix(args.Name, "-acr-pull"):
				return &pulumi.ResourceTransformationResult{Props: args.Props, Opts: append(args.Opts, pulumi.DependsOnInputs(deps))}
			}
			return nil
		}); err != nil {
			return err
		}
		return program(ctx)
	}
}
