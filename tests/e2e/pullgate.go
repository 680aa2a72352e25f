// pullgate.go: a node pulling a pod's images, simulated. kwok starts a pod only
// once its images are pulled; this decides when that is, as the registry decides
// for the kubelet (sim.Cloud.PullRefusal), and reports a refusal as the kubelet
// does: Warning events on the pod and the container waiting in ErrImagePull, then
// ImagePullBackOff.

package e2e

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/guestbook-aks/guestbook/tests/e2e/sim"
)

// PullGate pulls for the pods of kube, as the kubelet of the cluster each pod
// belongs to (the front knows which cluster wrote its namespace). A refused pull
// is retried with the kubelet's back-off: 10 s doubling to 5 min.
type PullGate struct {
	cloud *sim.Cloud
	kube  *Kube
	front *Front
	// scale is the wall time of one simulated second.
	scale time.Duration

	mu       sync.Mutex
	pods     map[string]*pullState
	attempts []PullAttempt
}

// PullAttempt is one pull of a pod's images.
type PullAttempt struct {
	Pod       string // namespace/name
	ClusterID string
	Image     string // the first image refused, or the pod's first image
	At        time.Time
	Granted   bool
	Reason    string
}

type pullState struct {
	failures int
	next     time.Time
}

// NewPullGate returns a gate over cloud for the pods of kube, whose clusters
// front knows.
func NewPullGate(cloud *sim.Cloud, kube *Kube, front *Front, scale time.Duration) *PullGate {
	return &PullGate{cloud: cloud, kube: kube, front: front, scale: scale, pods: map[string]*pullState{}}
}

// Reset forgets every pull.
func (g *PullGate) Reset() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.pods, g.attempts = map[string]*pullState{}, nil
}

// Attempts returns every pull so far.
func (g *PullGate) Attempts() []PullAttempt {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]PullAttempt(nil), g.attempts...)
}

// Refused returns the refused pulls since since.
func (g *PullGate) Refused(since time.Time) []PullAttempt {
	var out []PullAttempt
	for _, a := range g.Attempts() {
		if !a.Granted && !a.At.Before(since) {
			out = append(out, a)
		}
	}
	return out
}

// Run pulls for scheduled pods until ctx ends.
func (g *PullGate) Run(ctx context.Context, logf func(string, ...any)) {
	everyTick(ctx, 20*time.Millisecond, g.step, func(err error) { logf("image pulls: %v", err) })
}

// everyTick runs step every interval until ctx ends, reporting its errors.
func everyTick(ctx context.Context, interval time.Duration, step func(context.Context) error, report func(error)) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if err := step(ctx); err != nil && ctx.Err() == nil {
			report(err)
		}
	}
}

func (g *PullGate) step(ctx context.Context) error {
	var pods list[pod]
	if err := g.kube.Get(ctx, "/api/v1/pods", &pods); err != nil {
		return err
	}
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
		g.mu.Unlock()
		if !due {
			continue
		}
		attempt := PullAttempt{Pod: key, At: time.Now(), Granted: true, ClusterID: g.front.Owner(p.Metadata.Namespace)}
		var refused container
		for _, c := range append(p.Spec.InitContainers, p.Spec.Containers...) {
			if attempt.Image == "" {
				attempt.Image = c.Image
			}
			reason, err := g.refusal(attempt.ClusterID, c.Image, attempt.At)
			if err != nil {
				return err
			}
			if reason != "" {
				attempt.Image, attempt.Granted, attempt.Reason, refused = c.Image, false, reason, c
				break
			}
		}
		g.mu.Lock()
		g.attempts = append(g.attempts, attempt)
		failures := st.failures
		if !attempt.Granted {
			st.failures++
			backoff := 10 * time.Second << (st.failures - 1)
			if backoff > 5*time.Minute || st.failures > 6 {
				backoff = 5 * time.Minute
			}
			st.next = attempt.At.Add(g.wall(backoff))
		}
		g.mu.Unlock()
		if !attempt.Granted {
			if err := g.reportRefusal(ctx, p, refused, attempt.Reason, failures > 0); err != nil && !IsNotFound(err) {
				return err
			}
			continue
		}
		patch := map[string]any{"metadata": map[string]any{"annotations": map[string]string{pullAnnotation: "true"}}}
		if err := g.kube.MergePatch(ctx, "/api/v1/namespaces/"+p.Metadata.Namespace+"/pods/"+p.Metadata.Name, patch); err != nil && !IsNotFound(err) {
			return err
		}
	}
	return nil
}

// refusal returns why a node of cluster clusterID cannot pull image at now.
func (g *PullGate) refusal(clusterID, image string, now time.Time) (string, error) {
	if !strings.Contains(strings.SplitN(image, "/", 2)[0], ".azurecr.io") {
		return "", nil
	}
	if clusterID == "" {
		return "the pod's namespace was written through no cluster's API server, so no kubelet identity pulls for it", nil
	}
	return g.cloud.PullRefusal(clusterID, image, now)
}

// reportRefusal does what the kubelet does when a pull fails: a Warning event
// "Failed" with the registry's answer and one "Error: ErrImagePull" (after the
// first failure, "Back-off pulling image"), and the container waiting with that
// reason, which the Kubernetes provider's rollout await reports.
func (g *PullGate) reportRefusal(ctx context.Context, p pod, c container, reason string, backingOff bool) error {
	now := time.Now().UTC().Format(time.RFC3339)
	waiting := "ErrImagePull"
	events := []map[string]string{
		{"reason": "Failed", "message": fmt.Sprintf("Failed to pull image %q: %s", c.Image, reason)},
		{"reason": "Failed", "message": "Error: ErrImagePull"},
	}
	if backingOff {
		waiting = "ImagePullBackOff"
		events = append(events, map[string]string{"reason": "BackOff", "message": fmt.Sprintf("Back-off pulling image %q", c.Image)})
	}
	for _, e := range events {
		ev := map[string]any{
			"apiVersion": "v1", "kind": "Event",
			"metadata": map[string]any{"generateName": p.Metadata.Name + ".", "namespace": p.Metadata.Namespace},
			"involvedObject": map[string]any{
				"apiVersion": "v1", "kind": "Pod", "namespace": p.Metadata.Namespace, "name": p.Metadata.Name,
				"uid": p.Metadata.UID, "fieldPath": "spec.containers{" + c.Name + "}",
			},
			"reason": e["reason"], "message": e["message"], "type": "Warning",
			"source":         map[string]any{"component": "kubelet", "host": p.Spec.NodeName},
			"firstTimestamp": now, "lastTimestamp": now, "count": 1,
		}
		if err := g.kube.Create(ctx, "/api/v1/namespaces/"+p.Metadata.Namespace+"/events", ev); err != nil {
			return err
		}
	}
	status := map[string]any{"status": map[string]any{
		"phase": "Pending",
		"containerStatuses": []any{map[string]any{
			"name": c.Name, "image": c.Image, "imageID": "", "ready": false, "restartCount": 0,
			"state": map[string]any{"waiting": map[string]any{"reason": waiting, "message": reason}},
		}},
	}}
	return g.kube.MergePatch(ctx, "/api/v1/namespaces/"+p.Metadata.Namespace+"/pods/"+p.Metadata.Name+"/status", status)
}

// wall converts simulated time to wall time.
func (g *PullGate) wall(d time.Duration) time.Duration {
	return time.Duration(float64(d) / float64(time.Second) * float64(g.scale))
}
