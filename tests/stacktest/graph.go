// graph.go: what a run registered, and questions about its dependency graph.

package stacktest

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// Resource is one registration as the engine received it.
type Resource struct {
	URN    string
	Type   string
	Name   string
	Custom bool
	// Parent is the parent's URN ("" for the stack itself).
	Parent string
	// Provider is the URN of the explicit provider, "" for the default one.
	Provider string
	// Inputs are the resource's inputs; secrets stay wrapped, unknowns are absent.
	Inputs resource.PropertyMap
	// Dependencies are the URNs the resource waits for: data and explicit DependsOn.
	Dependencies []string
	// PropertyDependencies are, per input, the URNs its value came from.
	PropertyDependencies map[string][]string
	IgnoreChanges        []string
	ReplaceOnChanges     []string
	DeleteBeforeReplace  bool
	Timeouts             Timeouts
	// Protect is the resource's protect option.
	Protect bool
	// ID and Outputs are what the mocks answered.
	ID      string
	Outputs resource.PropertyMap
}

// Timeouts are a resource's customTimeouts.
type Timeouts struct{ Create, Update, Delete string }

// String names the resource as type and logical name.
func (r *Resource) String() string { return r.Type + " " + r.Name }

// Input returns the input at a dotted path ("spec.template.spec.containers[0].image"),
// looking through secrets, and whether it exists and is known.
func (r *Resource) Input(path string) (resource.PropertyValue, bool) {
	return Lookup(r.Inputs, path)
}

// DataDependencies are the URNs any input's value came from.
func (r *Resource) DataDependencies() []string {
	var urns []string
	for _, deps := range r.PropertyDependencies {
		for _, u := range deps {
			if !slices.Contains(urns, u) {
				urns = append(urns, u)
			}
		}
	}
	slices.Sort(urns)
	return urns
}

// ExplicitDependencies are the URNs the resource waits for that no input explains:
// what DependsOn added.
func (r *Resource) ExplicitDependencies() []string {
	data := r.DataDependencies()
	var urns []string
	for _, u := range r.Dependencies {
		if !slices.Contains(data, u) {
			urns = append(urns, u)
		}
	}
	return urns
}

// Graph is every resource a run registered and the invokes it made.
type Graph struct {
	Resources []*Resource
	Invokes   []Invoke
	byURN     map[string]*Resource
}

func newGraph(resources []*Resource, invokes []Invoke) *Graph {
	g := &Graph{Resources: slices.Clone(resources), Invokes: slices.Clone(invokes), byURN: map[string]*Resource{}}
	for _, r := range g.Resources {
		g.byURN[r.URN] = r
	}
	return g
}

// ByURN returns the resource with that URN, or nil.
func (g *Graph) ByURN(urn string) *Resource { return g.byURN[urn] }

// OfType returns the resources of a type, in registration order.
func (g *Graph) OfType(typ string) []*Resource {
	var out []*Resource
	for _, r := range g.Resources {
		if r.Type == typ {
			out = append(out, r)
		}
	}
	return out
}

// Find returns the resource of a type with a logical name.
func (g *Graph) Find(typ, name string) (*Resource, error) {
	for _, r := range g.Resources {
		if r.Type == typ && r.Name == name {
			return r, nil
		}
	}
	var names []string
	for _, r := range g.OfType(typ) {
		names = append(names, r.Name)
	}
	return nil, fmt.Errorf("no %s named %q registered (registered: %v)", typ, name, names)
}

// InvokesOf returns the invokes of a token.
func (g *Graph) InvokesOf(token string) []Invoke {
	var out []Invoke
	for _, inv := range g.Invokes {
		if inv.Token == token {
			out = append(out, inv)
		}
	}
	return out
}

// Waits reports whether from directly waits for to: to is among from's
// dependencies, or is from's provider (a resource waits for its provider).
func (g *Graph) Waits(from, to *Resource) bool {
	return from.Provider == to.URN || slices.Contains(from.Dependencies, to.URN)
}

// Prerequisites returns the URNs r directly waits for: its dependencies and its
// provider. Components among them stand for their children, as in the engine.
func (g *Graph) Prerequisites(r *Resource) []string {
	direct := slices.Clone(r.Dependencies)
	if r.Provider != "" {
		direct = append(direct, r.Provider)
	}
	urns := expand(g, direct)
	slices.Sort(urns)
	return slices.Compact(urns)
}

// descendants returns the custom resources below a component.
func (g *Graph) descendants(urn string) []string {
	var out []string
	for _, r := range g.Resources {
		if r.Parent == urn {
			if r.Custom {
				out = append(out, r.URN)
			} else {
				out = append(out, g.descendants(r.URN)...)
			}
		}
	}
	return out
}

// WaitsTransitively reports whether from waits for to, directly or through others,
// and returns the path when it does.
func (g *Graph) WaitsTransitively(from, to *Resource) ([]*Resource, bool) {
	seen := map[string]bool{}
	var walk func(r *Resource) []*Resource
	walk = func(r *Resource) []*Resource {
		if seen[r.URN] {
			return nil
		}
		seen[r.URN] = true
		for _, u := range g.Prerequisites(r) {
			dep := g.byURN[u]
			if dep == nil {
				continue
			}
			if dep.URN == to.URN {
				return []*Resource{r, dep}
			}
			if path := walk(dep); path != nil {
				return append([]*Resource{r}, path...)
			}
		}
		return nil
	}
	path := walk(from)
	return path, path != nil
}

// Path renders a dependency path for messages.
func Path(path []*Resource) string {
	parts := make([]string, len(path))
	for i, r := range path {
		parts[i] = r.Type + " " + r.Name
	}
	return strings.Join(parts, " -> ")
}

// Get returns the resource of a type with a logical name, or fails the test.
func (g *Graph) Get(t testing.TB, typ, name string) *Resource {
	t.Helper()
	r, err := g.Find(typ, name)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// EdgeList returns every "waits for" edge as "<type> <name> -> <type> <name>",
// sorted: graphs of a preview and an update compare equal by it although their
// ids and many values differ.
func (g *Graph) EdgeList() []string {
	var out []string
	for _, r := range g.Resources {
		for _, u := range g.Prerequisites(r) {
			if dep := g.ByURN(u); dep != nil {
				out = append(out, r.String()+" -> "+dep.String())
			}
		}
	}
	slices.Sort(out)
	return out
}

// Clone returns a copy of g whose resources can be changed without touching g's:
// their dependency lists and input and output maps are copied (a test that breaks a
// graph replaces inputs rather than editing nested values in place).
func (g *Graph) Clone() *Graph {
	resources := make([]*Resource, len(g.Resources))
	for i, r := range g.Resources {
		c := *r
		c.Inputs = r.Inputs.Copy()
		c.Outputs = r.Outputs.Copy()
		c.Dependencies = slices.Clone(r.Dependencies)
		c.PropertyDependencies = map[string][]string{}
		for k, v := range r.PropertyDependencies {
			c.PropertyDependencies[k] = slices.Clone(v)
		}
		resources[i] = &c
	}
	return newGraph(resources, g.Invokes)
}

// Remove returns a copy of g without the given resources and every edge to them.
func (g *Graph) Remove(rs ...*Resource) *Graph {
	gone := func(u string) bool {
		return slices.ContainsFunc(rs, func(r *Resource) bool { return r.URN == u })
	}
	c := g.Clone()
	var kept []*Resource
	for _, x := range c.Resources {
		if gone(x.URN) {
			continue
		}
		x.Dependencies = slices.DeleteFunc(x.Dependencies, gone)
		for k, v := range x.PropertyDependencies {
			x.PropertyDependencies[k] = slices.DeleteFunc(v, gone)
		}
		kept = append(kept, x)
	}
	return newGraph(kept, c.Invokes)
}

// With returns a copy of g with more resources.
func (g *Graph) With(extra ...*Resource) *Graph {
	c := g.Clone()
	return newGraph(append(c.Resources, extra...), c.Invokes)
}
