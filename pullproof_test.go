package main

import (
	"slices"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"

	"github.com/guestbook-aks/guestbook/tests/stacktest"
)

// TestEveryStackImageCanBePulled runs the pull-permission proof over everything the
// real program registers, in each stack.
func TestEveryStackImageCanBePulled(t *testing.T) {
	for _, stack := range stacks {
		t.Run(stack, func(t *testing.T) { provePulls(t, stack) })
	}
}

func provePulls(t *testing.T, stack string) {
	g := stackRun(t, stack, false).Graph
	proof := stacktest.ProvePullPermissions(g)
	for _, p := range proof.Problems {
		t.Error(p)
	}
	grants := []*stacktest.Resource{
		g.Get(t, stacktest.TypeRoleAssignment, "guestbook-acr-pull"),
		g.Get(t, stacktest.TypeRoleAssignment, "guestbook-repository-reader"),
	}
	var proven []string
	for _, img := range proof.Proven {
		proven = append(proven, img.Workload.Name+"/"+img.Container+" from "+img.Source.String())
		if !slices.Equal(img.Grants, grants) {
			t.Errorf("%s/%s is granted by %v, want %v", img.Workload.Name, img.Container, img.Grants, grants)
		}
	}
	slices.Sort(proven)
	want := []string{
		"guestbook-app/guestbook from " + stacktest.TypeImage + " guestbook-image",
		"guestbook-redis/redis from " + stacktest.TypeCacheRule + " guestbook-cache-redis",
	}
	if !slices.Equal(proven, want) {
		t.Errorf("proven pulls = %v, want %v", proven, want)
	}
	var external []string
	for _, img := range proof.External {
		external = append(external, img.Image)
		t.Logf("outside the stack's registries, not covered by the proof: %s (%s/%s)", img.Image, img.Workload.Name, img.Container)
	}
	if len(external) != 0 {
		t.Errorf("external images = %v, want none: every image comes through the stack's registry", external)
	}
}

// TestPullProofCatchesBrokenGraphs feeds the proof graphs broken the ways that end in
// ImagePullBackOff / 401 Unauthorized, and checks that each fails with a message
// naming the workload, the registry and what is missing.
func TestPullProofCatchesBrokenGraphs(t *testing.T) {
	dev := stackRun(t, "dev", false).Graph
	tests := []struct {
		name    string
		break_  func(t *testing.T, g *stacktest.Graph) *stacktest.Graph
		want    []string
		culprit string // the workload the message must name
	}{
		{
			name: "no AcrPull assignment",
			break_: func(t *testing.T, g *stacktest.Graph) *stacktest.Graph {
				return g.Remove(g.Get(t, stacktest.TypeRoleAssignment, "guestbook-acr-pull"))
			},
			want: []string{"no AcrPull role assignment on the registry for the kubelet identity"},
		},
		{
			name: "no Repository Reader assignment",
			break_: func(t *testing.T, g *stacktest.Graph) *stacktest.Graph {
				return g.Remove(g.Get(t, stacktest.TypeRoleAssignment, "guestbook-repository-reader"))
			},
			want: []string{"no Container Registry Repository Reader role assignment on the registry for the kubelet identity",
				"a registry in RBAC Registry + ABAC Repository Permissions mode honours only Container Registry Repository Reader"},
		},
		{
			name: "client id instead of object id",
			break_: func(t *testing.T, g *stacktest.Graph) *stacktest.Graph {
				kubelet := g.Get(t, stacktest.TypeIdentity, "guestbook-kubelet")
				clientID, _ := stacktest.String(kubelet.Outputs, "clientId")
				g.Get(t, stacktest.TypeRoleAssignment, "guestbook-acr-pull").Inputs["principalId"] = resource.NewProperty(clientID)
				return g
			},
			want: []string{"grants principal", "that is the kubelet identity's client id; role assignments need its object id"},
		},
		{
			name: "scoped to the resource group",
			break_: func(t *testing.T, g *stacktest.Graph) *stacktest.Graph {
				rg := g.Get(t, stacktest.TypeResourceGroup, "guestbook-rg")
				g.Get(t, stacktest.TypeRoleAssignment, "guestbook-acr-pull").Inputs["scope"] = resource.NewProperty(rg.ID)
				return g
			},
			want: []string{"guestbook-acr-pull is scoped to", "not the registry"},
		},
		{
			name: "principal type User",
			break_: func(t *testing.T, g *stacktest.Graph) *stacktest.Graph {
				g.Get(t, stacktest.TypeRoleAssignment, "guestbook-acr-pull").Inputs["principalType"] = resource.NewProperty("User")
				return g
			},
			want: []string{`principalType "User", want ServicePrincipal`},
		},
		{
			name: "deployment does not wait for the assignment",
			break_: func(t *testing.T, g *stacktest.Graph) *stacktest.Graph {
				acrPull := g.Get(t, stacktest.TypeRoleAssignment, "guestbook-acr-pull")
				dep := g.Get(t, stacktest.TypeDeployment, "guestbook-app")
				dep.Dependencies = slices.DeleteFunc(dep.Dependencies, func(u string) bool { return u == acrPull.URN })
				return g
			},
			want: []string{"AcrPull assignment guestbook-acr-pull exists but the workload does not depend on it"},
		},
		{
			name: "a CronJob added without the dependency",
			break_: func(t *testing.T, g *stacktest.Graph) *stacktest.Graph {
				dep := g.Get(t, stacktest.TypeDeployment, "guestbook-app")
				image, _ := stacktest.String(dep.Inputs, "spec.template.spec.containers[0].image")
				job := &stacktest.Resource{
					URN:  strings.Replace(dep.URN, "kubernetes:apps/v1:Deployment::guestbook-app", "kubernetes:batch/v1:CronJob::guestbook-cleanup", 1),
					Type: "kubernetes:batch/v1:CronJob", Name: "guestbook-cleanup", Custom: true,
					Parent: dep.Parent, Provider: dep.Provider,
					Inputs: resource.PropertyMap{"spec": resource.NewProperty(resource.PropertyMap{
						"jobTemplate": resource.NewProperty(resource.PropertyMap{"spec": resource.NewProperty(resource.PropertyMap{
							"template": resource.NewProperty(resource.PropertyMap{"spec": resource.NewProperty(resource.PropertyMap{
								"containers": resource.NewProperty([]resource.PropertyValue{resource.NewProperty(resource.PropertyMap{
									"name":  resource.NewProperty("cleanup"),
									"image": resource.NewProperty(image),
								})}),
							})}),
						})}),
					})},
				}
				return g.With(job)
			},
			culprit: "guestbook-cleanup",
			want:    []string{"container cleanup", "exists but the workload does not depend on it"},
		},
		{
			name: "workload on the default provider",
			break_: func(t *testing.T, g *stacktest.Graph) *stacktest.Graph {
				g.Get(t, stacktest.TypeDeployment, "guestbook-app").Provider = ""
				return g
			},
			want: []string{"default Kubernetes provider"},
		},
		{
			name: "no cache rule for Redis",
			break_: func(t *testing.T, g *stacktest.Graph) *stacktest.Graph {
				return g.Remove(g.Get(t, stacktest.TypeCacheRule, "guestbook-cache-redis"))
			},
			culprit: "guestbook-redis",
			want:    []string{"nothing puts repository docker/library/redis in the registry", "404 manifest unknown"},
		},
		{
			name: "Redis does not wait for its cache rule",
			break_: func(t *testing.T, g *stacktest.Graph) *stacktest.Graph {
				rule := g.Get(t, stacktest.TypeCacheRule, "guestbook-cache-redis")
				sts := g.Get(t, stacktest.TypeStatefulSet, "guestbook-redis")
				sts.Dependencies = slices.DeleteFunc(sts.Dependencies, func(u string) bool { return u == rule.URN })
				return g
			},
			culprit: "guestbook-redis",
			want:    []string{"repository docker/library/redis comes from", "does not wait for it"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			proof := stacktest.ProvePullPermissions(tt.break_(t, dev.Clone()))
			t.Logf("%s", strings.Join(proof.Problems, "\n"))
			if len(proof.Problems) == 0 {
				t.Fatalf("the proof passed a graph with %s", tt.name)
			}
			culprit := tt.culprit
			if culprit == "" {
				culprit = "guestbook-app"
			}
			msg := strings.Join(proof.Problems, "\n")
			for _, want := range append([]string{culprit, "registry guestbookacr"}, tt.want...) {
				if !strings.Contains(msg, want) {
					t.Errorf("proof problems do not mention %q:\n%s", want, msg)
				}
			}
		})
	}
	// The broken copies must not have touched the real graph.
	if p := stacktest.ProvePullPermissions(dev).Problems; len(p) != 0 {
		t.Errorf("breaking copies changed the dev graph: %v", p)
	}
}
