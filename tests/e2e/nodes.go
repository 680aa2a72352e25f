// nodes.go: the simulated cluster's nodes follow the simulated AKS: the system
// pool's nodes exist from the start, tainted CriticalAddonsOnly as the program
// asks, and a user pool's nodes join when its create succeeds and leave when it
// is deleted, so a pod the system pool's taint keeps off has nowhere to run
// until its user pool exists.

package e2e

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/guestbook-aks/guestbook/tests/e2e/sim"
)

// UserNodesPerPool is how many kwok nodes a user pool gets, at most: enough
// for the app's replicas to spread, few enough for kwok on two cores.
const UserNodesPerPool = 2

// poolLabel names the simulated agent pool a user node belongs to.
const poolLabel = "kubernetes.azure.com/agentpool"

// kwokNode is a Node kwok manages: a Standard_D2s_v5 (2 vCPUs, 8 GiB).
func kwokNode(name, pool, mode string, taints []map[string]string) map[string]any {
	node := map[string]any{
		"apiVersion": "v1", "kind": "Node",
		"metadata": map[string]any{
			"name":        name,
			"annotations": map[string]string{"kwok.x-k8s.io/node": "fake"},
			"labels": map[string]string{
				"kubernetes.io/hostname":    name,
				"kubernetes.io/os":          "linux",
				"kubernetes.io/arch":        "amd64",
				poolLabel:                   pool,
				"kubernetes.azure.com/mode": mode,
				"type":                      "kwok",
			},
		},
		"status": map[string]any{
			"allocatable": map[string]string{"cpu": "1900m", "memory": "5Gi", "pods": "110", "ephemeral-storage": "100Gi"},
			"capacity":    map[string]string{"cpu": "2", "memory": "8Gi", "pods": "110", "ephemeral-storage": "128Gi"},
		},
	}
	if len(taints) > 0 {
		node["spec"] = map[string]any{"taints": taints}
	}
	return node
}

// NodePools keeps the cluster's user nodes in step with the simulated cloud's
// agent pools.
type NodePools struct {
	cloud *sim.Cloud
	kube  *Kube
}

// Run reconciles until ctx ends.
func (n *NodePools) Run(ctx context.Context, logf func(string, ...any)) {
	everyTick(ctx, 100*time.Millisecond, n.step, func(err error) { logf("node pools: %v", err) })
}

func (n *NodePools) step(ctx context.Context) error {
	rs, err := n.cloud.Resources()
	if err != nil {
		return err
	}
	want := map[string]string{} // node name -> pool
	for _, r := range rs {
		// A pool's nodes join when its create finishes and stay through its
		// updates (AKS upgrades or scales them in place) until it is deleted.
		if r.Kind != sim.KindAgentPool || r.ProvisioningState == sim.StateCreating || r.ProvisioningState == sim.StateDeleting {
			continue
		}
		count := UserNodesPerPool
		if c, ok := r.Outputs["count"].(float64); ok && int(c) < count {
			count = max(int(c), 1)
		}
		for i := range count {
			want["aks-"+r.Name+"-"+strconv.Itoa(i)] = r.Name
		}
	}
	var nodes list[object]
	if err := n.kube.Get(ctx, "/api/v1/nodes?labelSelector="+url.QueryEscape("kubernetes.azure.com/mode=user"), &nodes); err != nil {
		return err
	}
	have := map[string]bool{}
	for _, node := range nodes.Items {
		name := node.Metadata.Name
		have[name] = true
		if _, ok := want[name]; ok {
			continue
		}
		// The pool is gone: AKS drains and deletes its nodes.
		var pods list[object]
		if err := n.kube.Get(ctx, "/api/v1/pods?fieldSelector="+url.QueryEscape("spec.nodeName="+name), &pods); err != nil {
			return err
		}
		for _, p := range pods.Items {
			if err := n.kube.Do(ctx, http.MethodDelete, "/api/v1/namespaces/"+p.Metadata.Namespace+"/pods/"+p.Metadata.Name, "", nil, nil); err != nil && !IsNotFound(err) {
				return err
			}
		}
		if err := n.kube.Do(ctx, http.MethodDelete, "/api/v1/nodes/"+name, "", nil, nil); err != nil && !IsNotFound(err) {
			return fmt.Errorf("deleting node %s: %w", name, err)
		}
	}
	for name, pool := range want {
		if have[name] {
			continue
		}
		if err := n.kube.Create(ctx, "/api/v1/nodes", kwokNode(name, pool, "user", nil)); err != nil && !IsAlreadyExists(err) {
			return fmt.Errorf("creating node %s of pool %s: %w", name, pool, err)
		}
	}
	return nil
}
