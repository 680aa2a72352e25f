package main

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// raw builds a lookup over a map of full keys, as Pulumi passes configuration.
func raw(kv map[string]string) func(string) string {
	return func(k string) string { return kv[k] }
}

// valid is the smallest valid configuration: only the region, which has no default.
func valid(overrides map[string]string) map[string]string {
	kv := map[string]string{keyLocation: "japaneast"}
	for k, v := range overrides {
		kv[k] = v
	}
	return kv
}

// badKeys returns the keys of the FieldErrors in err, in order.
func badKeys(err error) []string {
	switch e := err.(type) {
	case nil:
		return nil
	case *FieldError:
		return []string{e.Key}
	case interface{ Unwrap() []error }:
		var keys []string
		for _, inner := range e.Unwrap() {
			keys = append(keys, badKeys(inner)...)
		}
		return keys
	}
	return badKeys(errors.Unwrap(err))
}

func TestParseConfigDefaults(t *testing.T) {
	got, err := parseConfig(raw(valid(nil)))
	if err != nil {
		t.Fatalf("parseConfig(only location) error = %v, want nil", err)
	}
	want := DefaultConfig()
	want.Location = "japaneast"
	if !reflect.DeepEqual(got, want) {
		t.Errorf("parseConfig(only location) = %+v, want %+v", got, want)
	}
}

func TestParseConfigValues(t *testing.T) {
	got, err := parseConfig(raw(valid(map[string]string{
		keyAcrSku:            "Premium",
		keyNodeCount:         "3",
		keyNodeMaxCount:      "10",
		keyNodeVMSize:        "Standard_D4s_v5",
		keyKubernetesVersion: "1.31.2",
		keyReplicas:          "5",
		keyNamespace:         "guestbook-prod",
		keyImageTag:          "v1.2.3_rc.1",
		keyServiceType:       "ClusterIP",
		keyRedisImage:        "myregistry.azurecr.io:443/mirror/redis@sha256:" + strings.Repeat("ab", 32),
		keyWritesPerMinute:   "30",
		keyWriteBurst:        "10",
		keyMaxEntries:        "500",
	})))
	if err != nil {
		t.Fatalf("parseConfig error = %v, want nil", err)
	}
	want := Config{
		Location: "japaneast", AcrSku: "Premium", NodeCount: 3, NodeMaxCount: 10,
		NodeVMSize: "Standard_D4s_v5", KubernetesVersion: "1.31.2", Replicas: 5,
		Namespace: "guestbook-prod", ImageTag: "v1.2.3_rc.1", ServiceType: "ClusterIP",
		RedisImage:      "myregistry.azurecr.io:443/mirror/redis@sha256:" + strings.Repeat("ab", 32),
		WritesPerMinute: 30, WriteBurst: 10, MaxEntries: 500,
	}
	if got != want {
		t.Errorf("parseConfig = %+v, want %+v", got, want)
	}
}

func TestParseConfigRules(t *testing.T) {
	tests := []struct {
		name     string
		key      string
		value    string
		wantRule string // "" means the value is valid
	}{
		{"location missing", keyLocation, "", "is required"},
		{"location blank", keyLocation, "  ", "is required"},

		{"acrSku Basic", keyAcrSku, "Basic", ""},
		{"acrSku Standard", keyAcrSku, "Standard", ""},
		{"acrSku Premium", keyAcrSku, "Premium", ""},
		{"acrSku unknown", keyAcrSku, "Gold", "must be one of Basic, Standard, Premium"},
		{"acrSku lowercase", keyAcrSku, "basic", "must be one of Basic, Standard, Premium"},

		{"nodeCount 1", keyNodeCount, "1", ""},
		{"nodeCount 0", keyNodeCount, "0", "from 1 to 100"},
		{"nodeCount negative", keyNodeCount, "-2", "from 1 to 100"},
		{"nodeCount 101", keyNodeCount, "101", "from 1 to 100"},
		{"nodeCount not a number", keyNodeCount, "two", "must be a whole number"},
		{"nodeCount fraction", keyNodeCount, "2.5", "must be a whole number"},
		{"nodeCount padded", keyNodeCount, " 2", "must be a whole number"},

		{"nodeMaxCount equal to nodeCount", keyNodeMaxCount, "2", ""},
		{"nodeMaxCount 100", keyNodeMaxCount, "100", ""},
		{"nodeMaxCount below nodeCount", keyNodeMaxCount, "1", "must be at least guestbook:nodeCount (2)"},
		{"nodeMaxCount 101", keyNodeMaxCount, "101", "from 1 to 100"},
		{"nodeMaxCount not a number", keyNodeMaxCount, "many", "must be a whole number"},

		{"nodeVmSize set", keyNodeVMSize, "Standard_B2s", ""},
		{"nodeVmSize blank", keyNodeVMSize, " ", "must not be empty"},

		{"kubernetesVersion MAJOR.MINOR", keyKubernetesVersion, "1.31", ""},
		{"kubernetesVersion MAJOR.MINOR.PATCH", keyKubernetesVersion, "1.31.2", ""},
		{"kubernetesVersion with v", keyKubernetesVersion, "v1.31", "MAJOR.MINOR or MAJOR.MINOR.PATCH"},
		{"kubernetesVersion major only", keyKubernetesVersion, "1", "MAJOR.MINOR or MAJOR.MINOR.PATCH"},
		{"kubernetesVersion four parts", keyKubernetesVersion, "1.31.2.1", "MAJOR.MINOR or MAJOR.MINOR.PATCH"},
		{"kubernetesVersion word", keyKubernetesVersion, "latest", "MAJOR.MINOR or MAJOR.MINOR.PATCH"},

		{"replicas 1", keyReplicas, "1", ""},
		{"replicas 50", keyReplicas, "50", ""},
		{"replicas 0", keyReplicas, "0", "from 1 to 50"},
		{"replicas 51", keyReplicas, "51", "from 1 to 50"},
		{"replicas not a number", keyReplicas, "three", "must be a whole number"},

		{"namespace valid", keyNamespace, "team-a-guestbook", ""},
		{"namespace 63 chars", keyNamespace, strings.Repeat("a", 63), ""},
		{"namespace 64 chars", keyNamespace, strings.Repeat("a", 64), "RFC 1123 label"},
		{"namespace uppercase", keyNamespace, "Guestbook", "RFC 1123 label"},
		{"namespace underscore", keyNamespace, "guest_book", "RFC 1123 label"},
		{"namespace leading dash", keyNamespace, "-guestbook", "RFC 1123 label"},
		{"namespace trailing dash", keyNamespace, "guestbook-", "RFC 1123 label"},
		{"namespace default", keyNamespace, "default", "must not be default or a kube-* system namespace"},
		{"namespace kube-system", keyNamespace, "kube-system", "must not be default or a kube-* system namespace"},
		{"namespace kube-public", keyNamespace, "kube-public", "must not be default or a kube-* system namespace"},

		{"imageTag semver", keyImageTag, "v1.2.3", ""},
		{"imageTag sha", keyImageTag, "3f2a9c1", ""},
		{"imageTag underscore start", keyImageTag, "_build", ""},
		{"imageTag 128 chars", keyImageTag, strings.Repeat("a", 128), ""},
		{"imageTag 129 chars", keyImageTag, strings.Repeat("a", 129), "valid image tag"},
		{"imageTag leading dot", keyImageTag, ".hidden", "valid image tag"},
		{"imageTag slash", keyImageTag, "feature/x", "valid image tag"},
		{"imageTag colon", keyImageTag, "a:b", "valid image tag"},

		{"serviceType LoadBalancer", keyServiceType, "LoadBalancer", ""},
		{"serviceType ClusterIP", keyServiceType, "ClusterIP", ""},
		{"serviceType NodePort", keyServiceType, "NodePort", "must be one of LoadBalancer, ClusterIP"},

		{"redisImage tag", keyRedisImage, "redis:7.2.11-alpine", ""},
		{"redisImage registry and tag", keyRedisImage, "docker.io/library/redis:7.2.11", ""},
		{"redisImage registry port", keyRedisImage, "localhost:5000/redis:7", ""},
		{"redisImage digest", keyRedisImage, "redis@sha256:" + strings.Repeat("0", 64), ""},
		{"redisImage tag and digest", keyRedisImage, "redis:7@sha256:" + strings.Repeat("0", 64), ""},
		{"redisImage untagged", keyRedisImage, "redis", "explicit tag or digest"},
		{"redisImage untagged with registry port", keyRedisImage, "localhost:5000/redis", "explicit tag or digest"},
		{"redisImage latest", keyRedisImage, "redis:latest", "must not use the latest tag"},
		{"redisImage latest with registry", keyRedisImage, "docker.io/library/redis:latest", "must not use the latest tag"},
		{"redisImage uppercase path", keyRedisImage, "Redis:7", "must be an image reference"},
		{"redisImage short digest", keyRedisImage, "redis@sha256:abc", "must be an image reference"},
		{"redisImage spaces", keyRedisImage, "redis: 7", "must be an image reference"},

		{"writesPerMinute 1", keyWritesPerMinute, "1", ""},
		{"writesPerMinute 600", keyWritesPerMinute, "600", ""},
		{"writesPerMinute 0", keyWritesPerMinute, "0", "from 1 to 600"},
		{"writesPerMinute 601", keyWritesPerMinute, "601", "from 1 to 600"},
		{"writesPerMinute fraction", keyWritesPerMinute, "0.5", "must be a whole number"},
		{"writesPerMinute word", keyWritesPerMinute, "unlimited", "must be a whole number"},

		{"writeBurst 1", keyWriteBurst, "1", ""},
		{"writeBurst 100", keyWriteBurst, "100", ""},
		{"writeBurst 0", keyWriteBurst, "0", "from 1 to 100"},
		{"writeBurst 101", keyWriteBurst, "101", "from 1 to 100"},
		{"writeBurst negative", keyWriteBurst, "-5", "from 1 to 100"},

		{"maxEntries 100", keyMaxEntries, "100", ""},
		{"maxEntries 20000", keyMaxEntries, "20000", ""},
		{"maxEntries 99", keyMaxEntries, "99", "from 100 to 20000"},
		{"maxEntries 20001", keyMaxEntries, "20001", "from 100 to 20000"},
		{"maxEntries with separator", keyMaxEntries, "10_000", "must be a whole number"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kv := valid(nil)
			kv[tt.key] = tt.value
			_, err := parseConfig(raw(kv))
			if tt.wantRule == "" {
				if err != nil {
					t.Errorf("parseConfig(%s = %q) error = %v, want nil", tt.key, tt.value, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("parseConfig(%s = %q) error = nil, want one naming the key and %q", tt.key, tt.value, tt.wantRule)
			}
			msg := err.Error()
			for _, want := range []string{tt.key, strconv.Quote(tt.value), tt.wantRule} {
				if !strings.Contains(msg, want) {
					t.Errorf("parseConfig(%s = %q) error = %q, want it to contain %q", tt.key, tt.value, msg, want)
				}
			}
			if got := badKeys(err); !slices.Equal(got, []string{tt.key}) {
				t.Errorf("parseConfig(%s = %q) reported keys %v, want exactly [%s]", tt.key, tt.value, got, tt.key)
			}
		})
	}
}

func TestParseConfigReportsEveryProblemAtOnce(t *testing.T) {
	_, err := parseConfig(raw(map[string]string{
		keyAcrSku:      "Gold",
		keyNodeCount:   "zero",
		keyReplicas:    "0",
		keyNamespace:   "kube-system",
		keyImageTag:    "a/b",
		keyServiceType: "NodePort",
		keyRedisImage:  "redis:latest",
		keyWriteBurst:  "0",
		keyMaxEntries:  "lots",
	}))
	if err == nil {
		t.Fatal("parseConfig(ten problems) error = nil")
	}
	want := []string{keyNodeCount, keyLocation, keyAcrSku, keyReplicas, keyNamespace, keyImageTag, keyServiceType, keyRedisImage, keyWriteBurst, keyMaxEntries}
	got := badKeys(err)
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("parseConfig reported keys %v, want %v\nerror:\n%v", got, want, err)
	}
	if lines := strings.Count(err.Error(), "\n"); lines < len(want) {
		t.Errorf("error has %d lines, want one per problem (%d) so each is readable:\n%v", lines, len(want), err)
	}
}

// TestPulumiYAMLDeclaresEveryKey keeps Pulumi.yaml (what `pulumi config` shows and
// the CLI type-checks) and DefaultConfig (what the program uses) in step.
func TestPulumiYAMLDeclaresEveryKey(t *testing.T) {
	data, err := os.ReadFile("Pulumi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var project struct {
		Name    string
		Runtime string
		Config  map[string]struct {
			Type        string
			Description string
			Default     any
		}
	}
	if err := yaml.Unmarshal(data, &project); err != nil {
		t.Fatalf("parsing Pulumi.yaml: %v", err)
	}
	if project.Name != "guestbook" || project.Runtime != "go" {
		t.Errorf("Pulumi.yaml name, runtime = %q, %q; want guestbook, go", project.Name, project.Runtime)
	}

	defaults := DefaultConfig()
	want := map[string]struct {
		typ string
		def string
	}{
		"acrSku": {"string", defaults.AcrSku},
		// Numbers are untyped so that the program, not the CLI, checks them: see
		// the comment in Pulumi.yaml.
		"nodeCount":         {"", strconv.Itoa(defaults.NodeCount)},
		"nodeMaxCount":      {"", strconv.Itoa(defaults.NodeMaxCount)},
		"nodeVmSize":        {"string", defaults.NodeVMSize},
		"kubernetesVersion": {"string", defaults.KubernetesVersion},
		"replicas":          {"", strconv.Itoa(defaults.Replicas)},
		"namespace":         {"string", defaults.Namespace},
		"imageTag":          {"string", defaults.ImageTag},
		"serviceType":       {"string", defaults.ServiceType},
		"redisImage":        {"string", defaults.RedisImage},
		"writesPerMinute":   {"", strconv.Itoa(defaults.WritesPerMinute)},
		"writeBurst":        {"", strconv.Itoa(defaults.WriteBurst)},
		"maxEntries":        {"", strconv.Itoa(defaults.MaxEntries)},
	}
	for key, w := range want {
		decl, ok := project.Config[key]
		if !ok {
			t.Errorf("Pulumi.yaml does not declare %s", key)
			continue
		}
		if decl.Type != w.typ {
			t.Errorf("Pulumi.yaml %s type = %q, want %q", key, decl.Type, w.typ)
		}
		if strings.TrimSpace(decl.Description) == "" {
			t.Errorf("Pulumi.yaml %s has no description", key)
		}
		if got := fmt.Sprint(decl.Default); decl.Default == nil || got != w.def {
			t.Errorf("Pulumi.yaml %s default = %v, want %q (DefaultConfig)", key, decl.Default, w.def)
		}
	}
	for key := range project.Config {
		if _, ok := want[key]; !ok {
			t.Errorf("Pulumi.yaml declares %s, which the program does not read", key)
		}
	}
}

// TestDevStackConfigIsValid parses the dev stack's file the way the engine would
// pass it, so a typo there fails here and not in `pulumi up`.
func TestDevStackConfigIsValid(t *testing.T) {
	data, err := os.ReadFile("Pulumi.dev.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var stack struct{ Config map[string]any }
	if err := yaml.Unmarshal(data, &stack); err != nil {
		t.Fatalf("parsing Pulumi.dev.yaml: %v", err)
	}
	kv := map[string]string{}
	for k, v := range stack.Config {
		kv[k] = fmt.Sprint(v)
	}
	cfg, err := parseConfig(raw(kv))
	if err != nil {
		t.Fatalf("dev stack configuration is invalid: %v", err)
	}
	if cfg.Location != "japaneast" {
		t.Errorf("dev stack location = %q, want japaneast", cfg.Location)
	}
}
