// manifests.go: the Kubernetes objects a run declared, as the provider would send them.

package stacktest

import (
	"fmt"
	"slices"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"gopkg.in/yaml.v3"
)

// Manifests returns every Kubernetes object the run registered as the provider would
// send it to the API server (the SDK puts apiVersion and kind among the inputs), as
// JSON-like maps with whole numbers as integers (Kubernetes rejects 2.0 for an int32
// field), namespaces first. Unknown values make it an error: render an update.
func (g *Graph) Manifests() ([]map[string]any, error) {
	var out []map[string]any
	for _, r := range g.Resources {
		if !strings.HasPrefix(r.Type, "kubernetes:") || !r.Custom {
			continue
		}
		if r.Inputs.ContainsUnknowns() {
			return nil, fmt.Errorf("%s has unknown inputs; render the manifests of an update, not a preview", r)
		}
		obj, ok := integral(plain(resource.NewProperty(r.Inputs))).(map[string]any)
		if !ok || obj["apiVersion"] == nil || obj["kind"] == nil {
			return nil, fmt.Errorf("%s has no apiVersion/kind among its inputs", r)
		}
		out = append(out, obj)
	}
	// Registration order depends on goroutine scheduling; sort as kubectl would
	// apply: namespaces first, then by kind, namespace and name.
	key := func(o map[string]any) string {
		meta, _ := o["metadata"].(map[string]any)
		first := "1"
		if o["kind"] == "Namespace" {
			first = "0"
		}
		return fmt.Sprint(first, "/", o["kind"], "/", meta["namespace"], "/", meta["name"])
	}
	slices.SortFunc(out, func(a, b map[string]any) int { return strings.Compare(key(a), key(b)) })
	return out, nil
}

// ManifestsYAML renders Manifests as one multi-document YAML stream.
func (g *Graph) ManifestsYAML() ([]byte, error) {
	objs, err := g.Manifests()
	if err != nil {
		return nil, err
	}
	var b strings.Builder
	for _, o := range objs {
		doc, err := yaml.Marshal(o)
		if err != nil {
			return nil, err
		}
		b.WriteString("---\n")
		b.Write(doc)
	}
	return []byte(b.String()), nil
}

// integral turns whole float64s (how property values carry numbers) into ints.
func integral(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = integral(e)
		}
		return m
	case []any:
		s := make([]any, len(x))
		for i, e := range x {
			s[i] = integral(e)
		}
		return s
	case float64:
		if x == float64(int64(x)) {
			return int64(x)
		}
	}
	return v
}
