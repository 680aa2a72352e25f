// pullgate.go: the registry's side of a node pulling an image, simulated. kwok
// starts a pod only once its images are pulled; this decides when that is, the
// way ACR and Azure RBAC would.

package e2e

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/guestbook-aks/guestbook/tests/e2e/sim"
)

// acrPullRoleID is the built-in AcrPull role definition's GUID.
const acrPullRoleID = "7f951dda-4ed3-4680-a7ca-43fe172d538d"

// PullGate lets a node pull an image from a registry of the simulated cloud only
// when a kubelet identity of a cluster there holds AcrPull on that registry and
// the assignment has existed for the RBAC propagation delay; until then the pull
// is refused (401 from <registry>/oauth2/token) and retried with the kubelet's
// back-off: 10 s doubling to 5 min. Images from elsewhere (Docker Hub) are
// pulled at once.
type PullGate struct {
	cloud *sim.Cloud
	kube  *Kube
	// scale is the wall time of one simulated second.
	scale time.Duration

	mu sync.Mutex
	// propagation is the RBAC propagation delay in simulated time.
	propagation time.Duration
	pods        map[string]*pullState
	attempts    []PullAttempt
}

// PullAttempt is one pull of a pod's images.
type PullAttempt struct {
	Pod     string // namespace/name
	Image   string // the first image refused, or the pod's first image
	At      time.Time
	Granted bool
	Reason  string
}

type pullState struct {
	failures int
	next     time.Time
}

// NewPullGate returns a gate over cloud for the pods of kube.
func NewPullGate(cloud *sim.Cloud, kube *Kube, scale, propagation time.Duration) *PullGate {
	return &PullGate{cloud: cloud, kube: kube, scale: scale, propagation: propagation, pods: map[string]*pullState{}}
}

// Reset forgets every pull and sets the propagation delay for the next ones.
func (g *PullGate) Reset(propagation time.Duration) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.propagation, g.pods, g.attempts = propagation, map[string]*pullState{}, nil
}

// Attempts returns every pull so far.
func (g *PullGate) Attempts() []PullAttempt {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]PullAttempt(nil), g.attempts...)
}

// Run pulls for scheduled pods until ctx ends.
func (g *PullGate) Run(ctx context.Context, logf func(string, ...any)) {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if err := g.step(ctx); err != nil && ctx.Err() == nil {
			logf("image pulls: %v", err)
		}
	}
}

func (g *PullGate) step(ctx context.Context) error {
	var pods list[pod]
	if err := g.kube.Get(ctx, "/api/v1/pods", &pods); err != nil {
		return err
	}
	var resources []sim.Resource
	for _, p := range pods.Items {
		key := p.Metadata.Namespace + "/" + p.Metadata.Name
		if p.Spec.NodeName == "" || p.Metadata.DeletionTimestamp != "" || p.Metadata.Annotations[pullAnnotation] == "true" {
			continue
		}
		g.mu.Lock()
		st := g.pods[key]
		if st == nil {
			st = &pullState{}
			g.pods[key] = st
		}
		due := !time.Now().Before(st.next)
		propagation := g.propagation
		g.mu.Unlock()
		if !due {
			continue
		}
		if resources == nil {
			var err error
			if resources, err = g.cloud.Resources(); err != nil {
				return err
			}
		}
		attempt := PullAttempt{Pod: key, At: time.Now(), Granted: true}
		for _, c := range append(p.Spec.InitContainers, p.Spec.Containers...) {
			if attempt.Image == "" {
				attempt.Image = c.Image
			}
			if reason := g.refusal(resources, c.Image, attempt.At, propagation); reason != "" {
				attempt.Image, attempt.Granted, attempt.Reason = c.Image, false, reason
				break
			}
		}
		g.mu.Lock()
		g.attempts = append(g.attempts, attempt)
		if !attempt.Granted {
			st.failures++
			backoff := 10 * time.Second << (st.failures - 1)
			if backoff > 5*time.Minute || st.failures > 6 {
				backoff = 5 * time.Minute
			}
			st.next = attempt.At.Add(g.wall(backoff))
		}
		g.mu.Unlock()
		if attempt.Granted {
			patch := map[string]any{"metadata": map[string]any{"annotations": map[string]string{pullAnnotation: "true"}}}
			if err := g.kube.MergePatch(ctx, "/api/v1/namespaces/"+p.Metadata.Namespace+"/pods/"+p.Metadata.Name, patch); err != nil && !IsNotFound(err) {
				return err
			}
		}
	}
	return nil
}

// wall converts simulated time to wall time.
func (g *PullGate) wall(d time.Duration) time.Duration {
	return time.Duration(float64(d) / float64(time.Second) * float64(g.scale))
}

// refusal returns why the registry refuses image to a node at now, or "".
func (g *PullGate) refusal(resources []sim.Resource, image string, now time.Time, propagation time.Duration) string {
	host := strings.SplitN(image, "/", 2)[0]
	if !strings.HasSuffix(host, ".azurecr.io") {
		return ""
	}
	var registryID string
	kubelets := map[string]bool{}
	for _, r := range resources {
		switch r.Type {
		case "Microsoft.ContainerRegistry/registries":
			if strings.EqualFold(str(r.Outputs, "loginServer"), host) {
				registryID = r.ID
			}
		case "Microsoft.ContainerService/managedClusters":
			if id := str(r.Inputs, "identityProfile", "kubeletidentity", "objectId"); id != "" {
				kubelets[id] = true
			}
		}
	}
	if registryID == "" {
		return fmt.Sprintf("%s: no such registry", host)
	}
	reason := fmt.Sprintf("401 Unauthorized from https://%s/oauth2/token: no kubelet identity holds AcrPull on %s", host, registryID)
	for _, r := range resources {
		if r.Type != "Microsoft.Authorization/roleAssignments" ||
			!strings.EqualFold(str(r.Inputs, "scope"), registryID) ||
			!strings.HasSuffix(strings.ToLower(str(r.Inputs, "roleDefinitionId")), "/"+acrPullRoleID) ||
			!kubelets[str(r.Inputs, "principalId")] {
			continue
		}
		effective := r.ReadyAt.Add(g.wall(propagation))
		if !now.Before(effective) {
			return g.missing(resources, host, registryID, image)
		}
		reason = fmt.Sprintf("401 Unauthorized from https://%s/oauth2/token: AcrPull assigned %s ago, not yet propagated",
			host, now.Sub(r.ReadyAt).Round(time.Millisecond))
	}
	return reason
}

// missing returns why a granted pull of image still fails, or "": its repository
// holds no pushed image and no cache rule of the registry maps it (404).
func (g *PullGate) missing(resources []sim.Resource, host, registryID, image string) string {
	repo := strings.TrimPrefix(image, host+"/")
	repo, _, _ = strings.Cut(repo, "@")
	if i := strings.LastIndex(repo, ":"); i > strings.LastIndex(repo, "/") {
		repo = repo[:i]
	}
	for _, r := range resources {
		if r.Kind == sim.KindCacheRule && r.ProvisioningState == sim.StateSucceeded &&
			strings.HasPrefix(r.ID, registryID+"/") && str(r.Inputs, "targetRepository") == repo {
			return ""
		}
	}
	images, err := g.cloud.Images()
	if err != nil {
		return err.Error()
	}
	for _, img := range images {
		if strings.EqualFold(img.Registry, host) && img.Repository == repo {
			return ""
		}
	}
	return fmt.Sprintf("404 manifest unknown from https://%s/v2/%s: no image pushed there and no cache rule maps it", host, repo)
}

// str returns the string at path in a JSON-like map, or "".
func str(m map[string]any, path ...string) string {
	var v any = m
	for _, k := range path {
		obj, ok := v.(map[string]any)
		if !ok {
			return ""
		}
		v = obj[k]
	}
	s, _ := v.(string)
	return s
}
