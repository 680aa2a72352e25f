// props.go: reading property maps the way a test asserts on them.

package stacktest

import (
	"fmt"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// Lookup returns the value at path in m, looking through secrets. Paths use
// Pulumi's property path syntax: `spec.template.spec.containers[0].image`,
// `metadata.labels["pod-security.kubernetes.io/enforce"]`. ok is false when a step
// is missing or unknown.
func Lookup(m resource.PropertyMap, path string) (resource.PropertyValue, bool) {
	p, err := resource.ParsePropertyPath(path)
	if err != nil {
		panic(fmt.Sprintf("stacktest.Lookup: bad path %q: %v", path, err))
	}
	v := resource.NewProperty(m)
	for _, step := range p {
		v = Unsecret(v)
		switch k := step.(type) {
		case string:
			if !v.IsObject() {
				return resource.PropertyValue{}, false
			}
			next, ok := v.ObjectValue()[resource.PropertyKey(k)]
			if !ok {
				return resource.PropertyValue{}, false
			}
			v = next
		case int:
			if !v.IsArray() || k < 0 || k >= len(v.ArrayValue()) {
				return resource.PropertyValue{}, false
			}
			v = v.ArrayValue()[k]
		}
	}
	if v.ContainsUnknowns() {
		return resource.PropertyValue{}, false
	}
	return v, true
}

// Unsecret returns the value inside any secret wrappers.
func Unsecret(v resource.PropertyValue) resource.PropertyValue {
	for {
		switch {
		case v.IsSecret():
			v = v.SecretValue().Element
		case v.IsOutput() && v.OutputValue().Known:
			v = v.OutputValue().Element
		default:
			return v
		}
	}
}

// IsSecret reports whether the value at path is marked secret anywhere on the way.
func IsSecret(m resource.PropertyMap, path string) bool {
	p, err := resource.ParsePropertyPath(path)
	if err != nil {
		panic(fmt.Sprintf("stacktest.IsSecret: bad path %q: %v", path, err))
	}
	v := resource.NewProperty(m)
	for _, step := range p {
		if v.IsSecret() || (v.IsOutput() && v.OutputValue().Secret) {
			return true
		}
		v = Unsecret(v)
		switch k := step.(type) {
		case string:
			if !v.IsObject() {
				return false
			}
			v = v.ObjectValue()[resource.PropertyKey(k)]
		case int:
			if !v.IsArray() || k >= len(v.ArrayValue()) {
				return false
			}
			v = v.ArrayValue()[k]
		}
	}
	return v.IsSecret() || (v.IsOutput() && v.OutputValue().Secret)
}

// String returns the known string at path, or "" and false.
func String(m resource.PropertyMap, path string) (string, bool) {
	v, ok := Lookup(m, path)
	v = Unsecret(v)
	if !ok || !v.IsString() {
		return "", false
	}
	return v.StringValue(), true
}

// Value returns the plain Go value at path (string, float64, bool, []any,
// map[string]any), secrets looked through, and whether it exists and is known.
func Value(m resource.PropertyMap, path string) (any, bool) {
	v, ok := Lookup(m, path)
	if !ok {
		return nil, false
	}
	return plain(v), true
}

func plain(v resource.PropertyValue) any {
	v = Unsecret(v)
	switch {
	case v.IsObject():
		out := map[string]any{}
		for k, e := range v.ObjectValue() {
			out[string(k)] = plain(e)
		}
		return out
	case v.IsArray():
		out := make([]any, len(v.ArrayValue()))
		for i, e := range v.ArrayValue() {
			out[i] = plain(e)
		}
		return out
	case v.IsNull():
		return nil
	}
	return v.V
}
