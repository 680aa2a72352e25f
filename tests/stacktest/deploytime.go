// deploytime.go: a first deploy replayed in simulated time over a run's graph, to
// measure how long it takes to a rolled-out guestbook and how early the AcrPull
// grant exists before the first pull.

package stacktest

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Durations are how long creating each kind of resource takes. The defaults are
// typical Azure and AKS figures for a first deploy.
type Durations struct {
	ResourceGroup, Registry, Identity, RoleAssignment, Cluster time.Duration
	// ImagePush is the image build and push.
	ImagePush time.Duration
	// Rollout is a Deployment or StatefulSet from apply to ready, once pulls succeed.
	Rollout time.Duration
	// LoadBalancer is a LoadBalancer Service getting its public IP.
	LoadBalancer time.Duration
	// Other is any other resource (Kubernetes objects, providers).
	Other time.Duration
}

// TypicalDurations are the figures the benchmark uses.
var TypicalDurations = Durations{
	ResourceGroup:  15 * time.Second,
	Registry:       45 * time.Second,
	Identity:       10 * time.Second,
	RoleAssignment: 20 * time.Second,
	Cluster:        420 * time.Second,
	ImagePush:      120 * time.Second,
	Rollout:        60 * time.Second,
	LoadBalancer:   45 * time.Second,
	Other:          1 * time.Second,
}

// Floor is the least any order can take: resource group, then cluster, then rollout.
func (d Durations) Floor() time.Duration { return d.ResourceGroup + d.Cluster + d.Rollout }

func (d Durations) of(r *Resource) time.Duration {
	t := r.Type
	switch {
	case strings.HasPrefix(t, "azure-native:resources:") && strings.HasSuffix(t, ":ResourceGroup"):
		return d.ResourceGroup
	case strings.HasSuffix(t, ":Registry"):
		return d.Registry
	case strings.HasSuffix(t, ":UserAssignedIdentity"):
		return d.Identity
	case strings.HasSuffix(t, ":RoleAssignment"):
		return d.RoleAssignment
	case strings.HasSuffix(t, ":ManagedCluster"):
		return d.Cluster
	case t == TypeImage:
		return d.ImagePush
	case t == TypeDeployment || t == TypeStatefulSet:
		return d.Rollout
	case t == TypeService:
		if v, _ := String(r.Inputs, "spec.type"); v == "LoadBalancer" {
			return d.LoadBalancer
		}
	}
	return d.Other
}

// Kubelet image pull back-off: the first retry after 10 s, doubling to at most 5 min.
const (
	pullBackoffInitial = 10 * time.Second
	pullBackoffMax     = 300 * time.Second
)

// Timeline is a simulated first deploy.
type Timeline struct {
	// RolledOut is when the last workload pulling from the stack's registry is ready.
	RolledOut time.Duration
	// HeadStart is the time from the AcrPull assignment's creation to that
	// workload's rollout start (its first pull). Negative: the pull came first.
	HeadStart time.Duration
	// FailedPulls counts pulls refused (401) before the grant took effect.
	FailedPulls int
	// Floor and Ratio compare RolledOut with the least possible.
	Floor time.Duration
	Ratio float64
	// Start and Finish of every resource, by URN.
	Start, Finish map[string]time.Duration
}

// SimulateDeploy replays a first deploy of g: every resource starts when all it
// waits for have finished (the engine's unbounded parallelism) and takes its
// duration. A workload pulling from the stack's registry may pull only once its
// AcrPull grant has existed for propagation (Azure RBAC propagation): pulls before
// that fail with 401 and the kubelet retries with its back-off, and the rollout
// takes its duration after the first pull that succeeds.
func SimulateDeploy(g *Graph, d Durations, propagation time.Duration) (Timeline, error) {
	proof := ProvePullPermissions(g)
	if len(proof.Problems) > 0 {
		return Timeline{}, fmt.Errorf("the graph does not prove its pulls: %s", strings.Join(proof.Problems, "; "))
	}
	grants := map[string]*Resource{} // workload URN -> its (last) grant
	for _, img := range proof.Proven {
		grants[img.Workload.URN] = img.Grant
	}

	tl := Timeline{Start: map[string]time.Duration{}, Finish: map[string]time.Duration{}, Floor: d.Floor(), HeadStart: -1}
	var finish func(r *Resource) time.Duration
	finish = func(r *Resource) time.Duration {
		if f, ok := tl.Finish[r.URN]; ok {
			return f
		}
		var start time.Duration
		for _, u := range g.Prerequisites(r) {
			if dep := g.ByURN(u); dep != nil {
				start = max(start, finish(dep))
			}
		}
		tl.Start[r.URN] = start
		f := start + d.of(r)
		if grant := grants[r.URN]; grant != nil {
			granted := finish(grant)
			pull, failures := start, 0
			for delay := pullBackoffInitial; pull < granted+propagation; delay = min(2*delay, pullBackoffMax) {
				pull += delay
				failures++
			}
			f = pull + d.Rollout
			if f > tl.RolledOut {
				tl.RolledOut, tl.HeadStart, tl.FailedPulls = f, start-granted, failures
			}
		}
		tl.Finish[r.URN] = f
		return f
	}
	for _, r := range g.Resources {
		if r.Custom {
			finish(r)
		}
	}
	if len(grants) == 0 {
		return Timeline{}, fmt.Errorf("no workload pulls from the stack's registry")
	}
	tl.Ratio = float64(tl.RolledOut) / float64(tl.Floor)
	return tl, nil
}

// OriginalOrder rewires g into the order of the setup this project replaced: the
// cluster creates its own kubelet identity (no pre-created identities, no Managed
// Identity Operator grant), so the AcrPull assignment can only be made once the
// cluster exists, and the workload rolls out right after it.
func OriginalOrder(g *Graph) *Graph {
	var cluster, acrPull *Resource
	var drop []*Resource
	for _, r := range g.Resources {
		switch {
		case strings.HasSuffix(r.Type, ":ManagedCluster"):
			cluster = r
		case strings.HasSuffix(r.Type, ":UserAssignedIdentity"):
			drop = append(drop, r)
		case strings.HasSuffix(r.Type, ":RoleAssignment"):
			if role, _ := String(r.Inputs, "roleDefinitionId"); strings.HasSuffix(role, "/"+acrPullRoleID) {
				acrPull = r
			} else {
				drop = append(drop, r)
			}
		}
	}
	c := g.Remove(drop...) // a copy, so the rewiring below leaves g alone
	if cluster != nil && acrPull != nil {
		a := c.ByURN(acrPull.URN)
		if !slices.Contains(a.Dependencies, cluster.URN) {
			a.Dependencies = append(a.Dependencies, cluster.URN)
		}
	}
	return c
}
