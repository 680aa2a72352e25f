// props.go: moving properties between the wire, Pulumi's PropertyMap and the cloud's plain JSON, and diffing them.

package sim

import (
	"encoding/json"
	"reflect"
	"slices"
	"sort"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/protobuf/types/known/structpb"
)

// wire keeps unknowns, secrets and resource references in both directions: the
// plugins tell the engine (Configure) that they accept all three, so they must give
// back what they were given, a secret as a secret.
var wire = plugin.MarshalOptions{KeepUnknowns: true, KeepSecrets: true, KeepResources: true}

func unmarshal(s *structpb.Struct) (resource.PropertyMap, error) {
	if s == nil {
		return resource.PropertyMap{}, nil
	}
	return plugin.UnmarshalProperties(s, wire)
}

func marshal(m resource.PropertyMap) (*structpb.Struct, error) {
	return plugin.MarshalProperties(m, wire)
}

// plain turns a property value into plain JSON: secrets become their value (the
// cloud holds the real thing), unknowns become nil, a resource reference its id.
func plain(v resource.PropertyValue) any {
	switch {
	case v.IsNull(), v.IsComputed():
		return nil
	case v.IsSecret():
		return plain(v.SecretValue().Element)
	case v.IsOutput():
		o := v.OutputValue()
		if !o.Known {
			return nil
		}
		return plain(o.Element)
	case v.IsResourceReference():
		ref := v.ResourceReferenceValue()
		if id, ok := ref.IDString(); ok {
			return id
		}
		return string(ref.URN)
	case v.IsArray():
		out := make([]any, len(v.ArrayValue()))
		for i, e := range v.ArrayValue() {
			out[i] = plain(e)
		}
		return out
	case v.IsObject():
		return plainMap(v.ObjectValue())
	case v.IsBool():
		return v.BoolValue()
	case v.IsNumber():
		return v.NumberValue()
	case v.IsString():
		return v.StringValue()
	}
	return nil // assets and archives: no simulated resource takes them
}

func plainMap(m resource.PropertyMap) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[string(k)] = plain(v)
	}
	return out
}

// fromPlain turns plain JSON back into properties.
func fromPlain(m map[string]any) resource.PropertyMap {
	return resource.NewPropertyMapFromMap(m)
}

// clonePlain deep-copies plain JSON.
func clonePlain(m map[string]any) map[string]any {
	b, err := json.Marshal(m)
	if err != nil {
		panic(err) // plain JSON always marshals
	}
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		panic(err)
	}
	return out
}

// keepSecrets marks as secret every top-level output whose input of the same name
// was a secret, so a value the program made secret never comes back in plain text.
func keepSecrets(outs, ins resource.PropertyMap) resource.PropertyMap {
	for k, v := range ins {
		if o, ok := outs[k]; ok && v.ContainsSecrets() && !o.ContainsSecrets() {
			outs[k] = resource.MakeSecret(o)
		}
	}
	return outs
}

// propStr returns the known string at key k, else "".
func propStr(m resource.PropertyMap, k string) string {
	v, ok := m[resource.PropertyKey(k)]
	if !ok {
		return ""
	}
	if v.IsSecret() {
		v = v.SecretValue().Element
	}
	if v.IsString() {
		return v.StringValue()
	}
	return ""
}

// present reports whether key k is set: known or unknown, but not absent or null.
func present(m resource.PropertyMap, k string) bool {
	v, ok := m[resource.PropertyKey(k)]
	return ok && !v.IsNull()
}

// applyIgnoreChanges sets, in news, every ignored path to its value in olds (or
// removes it if olds has none), so that ignored properties never diff.
func applyIgnoreChanges(olds, news resource.PropertyMap, paths []string) resource.PropertyMap {
	news = news.Copy()
	oldV, newV := resource.NewProperty(olds), resource.NewProperty(news)
	for _, p := range paths {
		path, err := resource.ParsePropertyPath(p)
		if err != nil {
			continue
		}
		if v, ok := path.Get(oldV); ok {
			path.Set(newV, v)
		} else {
			path.Delete(newV)
		}
	}
	return news
}

// diff compares old and new inputs the way the real providers do and says which
// changes replace: replaces(top) reports whether a change under top-level key top
// needs a new resource.
func diff(olds, news resource.PropertyMap, replaces func(top string) bool) *pulumirpc.DiffResponse {
	detailed := map[string]*pulumirpc.PropertyDiff{}
	diffValue(nil, resource.NewProperty(olds), resource.NewProperty(news), detailed)

	resp := &pulumirpc.DiffResponse{
		Changes:         pulumirpc.DiffResponse_DIFF_NONE,
		DetailedDiff:    detailed,
		HasDetailedDiff: true,
	}
	tops := map[string]bool{}
	for p, d := range detailed {
		path, err := resource.ParsePropertyPath(p)
		if err != nil || len(path) == 0 {
			continue
		}
		top, _ := path[0].(string)
		tops[top] = true
		if replaces(top) {
			d.Kind = replaceKind(d.Kind)
		}
	}
	for top := range tops {
		resp.Diffs = append(resp.Diffs, top)
		if replaces(top) {
			resp.Replaces = append(resp.Replaces, top)
		}
	}
	sort.Strings(resp.Diffs)
	sort.Strings(resp.Replaces)
	if len(detailed) > 0 {
		resp.Changes = pulumirpc.DiffResponse_DIFF_SOME
	}
	return resp
}

func replaceKind(k pulumirpc.PropertyDiff_Kind) pulumirpc.PropertyDiff_Kind {
	switch k {
	case pulumirpc.PropertyDiff_ADD:
		return pulumirpc.PropertyDiff_ADD_REPLACE
	case pulumirpc.PropertyDiff_DELETE:
		return pulumirpc.PropertyDiff_DELETE_REPLACE
	case pulumirpc.PropertyDiff_UPDATE:
		return pulumirpc.PropertyDiff_UPDATE_REPLACE
	}
	return k
}

// diffValue records in out, by property path, how new differs from old. Secrets
// compare by value; an unknown new value is always a change.
func diffValue(path resource.PropertyPath, old, new resource.PropertyValue, out map[string]*pulumirpc.PropertyDiff) {
	old, new = unwrap(old), unwrap(new)
	record := func(k pulumirpc.PropertyDiff_Kind) {
		out[path.String()] = &pulumirpc.PropertyDiff{Kind: k, InputDiff: true}
	}
	switch {
	case new.IsComputed() || (new.IsOutput() && !new.OutputValue().Known):
		if old.IsNull() {
			record(pulumirpc.PropertyDiff_ADD)
		} else {
			record(pulumirpc.PropertyDiff_UPDATE)
		}
	case old.IsNull() && new.IsNull():
	case old.IsNull():
		record(pulumirpc.PropertyDiff_ADD)
	case new.IsNull():
		record(pulumirpc.PropertyDiff_DELETE)
	case old.IsObject() && new.IsObject():
		o, n := old.ObjectValue(), new.ObjectValue()
		keys := map[resource.PropertyKey]bool{}
		for k := range o {
			keys[k] = true
		}
		for k := range n {
			keys[k] = true
		}
		for k := range keys {
			diffValue(append(slices.Clone(path), string(k)), o[k], n[k], out)
		}
	case old.IsArray() && new.IsArray():
		o, n := old.ArrayValue(), new.ArrayValue()
		for i := 0; i < max(len(o), len(n)); i++ {
			var ov, nv resource.PropertyValue
			if i < len(o) {
				ov = o[i]
			}
			if i < len(n) {
				nv = n[i]
			}
			diffValue(append(slices.Clone(path), i), ov, nv, out)
		}
	case !old.DeepEquals(new):
		record(pulumirpc.PropertyDiff_UPDATE)
	}
}

// unwrap returns a secret's or a known output's value; a zero value becomes null.
func unwrap(v resource.PropertyValue) resource.PropertyValue {
	for {
		switch {
		case v.V == nil:
			return resource.NewNullProperty()
		case v.IsSecret():
			v = v.SecretValue().Element
		case v.IsOutput() && v.OutputValue().Known:
			v = v.OutputValue().Element
		default:
			return v
		}
	}
}

// projection is outputs in the shape of inputs: what Azure computes (the kind's
// Computed paths and read-only properties) taken out.
func (k *armKind) projection(outputs map[string]any) map[string]any {
	out := clonePlain(outputs)
	for _, path := range append(slices.Clone(k.Computed), readOnly[k.Kind]...) {
		deletePath(out, path)
	}
	return out
}

// deletePath removes path from a plain value; "*" walks every array element.
func deletePath(v any, path []string) {
	switch x := v.(type) {
	case map[string]any:
		if len(path) == 1 {
			delete(x, path[0])
			return
		}
		deletePath(x[path[0]], path[1:])
	case []any:
		if path[0] == "*" {
			for _, e := range x {
				deletePath(e, path[1:])
			}
		}
	}
}

// applyChanges returns inputs with what changed between two projections of
// outputs applied to it, the way azure-native's Read applies the diff of old and
// new outputs to the old inputs: a value Azure changed is copied in, one it
// dropped is dropped, and one it did not touch keeps the input's value (or its
// absence).
func applyChanges(inputs, oldProj, newProj map[string]any) map[string]any {
	out := clonePlain(inputs)
	keys := map[string]bool{}
	for k := range oldProj {
		keys[k] = true
	}
	for k := range newProj {
		keys[k] = true
	}
	for k := range keys {
		o, inOld := oldProj[k]
		n, inNew := newProj[k]
		switch {
		case inOld && inNew && reflect.DeepEqual(o, n):
		case !inNew:
			delete(out, k)
		case inOld:
			out[k] = applyValue(out[k], o, n)
		default:
			out[k] = n
		}
	}
	return out
}

// applyValue applies the change from o to n to the input value in: objects and
// arrays of objects element by element, anything else replaced.
func applyValue(in, o, n any) any {
	om, okO := o.(map[string]any)
	nm, okN := n.(map[string]any)
	if okO && okN {
		im, _ := in.(map[string]any)
		if im == nil {
			im = map[string]any{}
		}
		return applyChanges(im, om, nm)
	}
	oa, okO := o.([]any)
	na, okN := n.([]any)
	ia, okI := in.([]any)
	if okO && okN && okI && len(oa) == len(na) && len(ia) == len(na) {
		out := make([]any, len(na))
		for i := range na {
			if reflect.DeepEqual(oa[i], na[i]) {
				out[i] = ia[i]
			} else {
				out[i] = applyValue(ia[i], oa[i], na[i])
			}
		}
		return out
	}
	return n
}
