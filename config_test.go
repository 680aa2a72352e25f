package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/guestbook-aks/guestbook/infra"
)

// raw builds a lookup over a map of full keys, as Pulumi passes configuration.
func raw(kv map[string]string) func(string) string {
	return func(k string) string { return kv[k] }
}

// admin is an Entra object id, as a user would set in guestbook:clusterAdmins.
const admin = "3f6c2a9e-8b1d-4c7e-9a2f-5d4e3c2b1a09"

// admins is guestbook:clusterAdmins as the engine passes it: JSON.
func admins(ids ...string) string {
	var b strings.Builder
	b.WriteString("[")
	for i, id := range ids {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `{"objectId": %q, "type": "User"}`, id)
	}
	return b.String() + "]"
}

// valid is the smallest valid configuration: the region and the cluster's admins,
// which have no default.
func valid(overrides map[string]string) map[string]string {
	kv := map[string]string{keyLocation: "japaneast", keyClusterAdmins: admins(admin)}
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
	got, err := parseConfig("dev", raw(valid(nil)))
	if err != nil {
		t.Fatalf("parseConfig(only location and admins) error = %v, want nil", err)
	}
	want := DefaultConfig()
	want.Location = "japaneast"
	want.ClusterAdmins = []infra.Principal{{ObjectID: admin, Type: "User"}}
	want.Stack = "dev"
	if !reflect.DeepEqual(got, want) {
		t.Errorf("parseConfig(only location and admins) = %+v, want %+v", got, want)
	}
}

func TestParseConfigValues(t *testing.T) {
	got, err := parseConfig("prod", raw(valid(map[string]string{
		keyClusterAdmins:     `[{"objectId": "` + strings.ToUpper(admin) + `", "type": "User"}, {"objectId": "0b7d4e2a-1c3f-4a5b-8d6e-7f8091a2b3c4", "type": "Group"}]`,
		keyZones:             `[1, "2", 3]`,
		keyAuthorizedIPs:     `["203.0.113.0/24", "198.51.100.7/32"]`,
		keyProtect:           "true",
		keyAcrSku:            "Premium",
		keyNodeCount:         "3",
		keyNodeMaxCount:      "10",
		keyNodeVMSize:        "Standard_D4s_v5",
		keyKubernetesVersion: "1.31",
		keyGrantPropagation:  "90s",
		keyReplicas:          "5",
		keyNamespace:         "guestbook-prod",
		keyImageTag:          "v1.2.3_rc.1",
		keyServiceType:       "ClusterIP",
		keyRedisImage:        "mcr.microsoft.com/mirror/redis@sha256:" + strings.Repeat("ab", 32),
		keyWritesPerMinute:   "30",
		keyWriteBurst:        "10",
		keyMaxEntries:        "500",
		keySystemNodeCount:   "3",
		keySystemNodeMax:     "5",
		keySystemNodeVMSize:  "Standard_D4ds_v5",
		keyOSDiskType:        "Managed",
		keyClusterTier:       "Standard",
		keyAzurePolicy:       "true",
		keyMonitoring:        "true",
		keyLogRetentionDays:  "90",
		keyAutoUpgradeWindow: `{"dayOfWeek": "Sunday", "startTime": "01:00", "durationHours": 4, "utcOffset": "+09:00"}`,
		keyRegistryZoneRed:   "true",
	})))
	if err != nil {
		t.Fatalf("parseConfig error = %v, want nil", err)
	}
	want := Config{
		Location: "japaneast", AcrSku: "Premium", NodeCount: 3, NodeMaxCount: 10,
		NodeVMSize: "Standard_D4s_v5", KubernetesVersion: "1.31", Replicas: 5,
		Namespace: "guestbook-prod", ImageTag: "v1.2.3_rc.1", ServiceType: "ClusterIP",
		RedisImage: "mcr.microsoft.com/mirror/redis@sha256:" + strings.Repeat("ab", 32),
		// Object ids are case-insensitive; lower case keeps assignment names stable.
		ClusterAdmins:               []infra.Principal{{ObjectID: admin, Type: "User"}, {ObjectID: "0b7d4e2a-1c3f-4a5b-8d6e-7f8091a2b3c4", Type: "Group"}},
		AvailabilityZones:           []string{"1", "2", "3"},
		APIServerAuthorizedIPRanges: []string{"203.0.113.0/24", "198.51.100.7/32"},
		Protect:                     true,
		Stack:                       "prod",
		WritesPerMinute:             30, WriteBurst: 10, MaxEntries: 500,
		GrantPropagation: 90 * time.Second,
		SystemNodeCount:  3, SystemNodeMaxCount: 5, SystemNodeVMSize: "Standard_D4ds_v5", OSDiskType: "Managed",
		ClusterTier: "Standard", AzurePolicy: true, Monitoring: true, LogRetentionDays: 90,
		AutoUpgradeWindow:      &MaintenanceWindow{DayOfWeek: "Sunday", StartTime: "01:00", DurationHours: 4, UTCOffset: "+09:00"},
		RegistryZoneRedundancy: true,
	}
	if !reflect.DeepEqual(got, want) {
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

		{"nodeMaxCount equal to nodeCount", keyNodeMaxCount, "1", ""},
		{"nodeMaxCount 100", keyNodeMaxCount, "100", ""},
		{"nodeMaxCount 101", keyNodeMaxCount, "101", "from 1 to 100"},
		{"nodeMaxCount not a number", keyNodeMaxCount, "many", "must be a whole number"},

		{"nodeVmSize set", keyNodeVMSize, "Standard_B2s", ""},
		{"nodeVmSize blank", keyNodeVMSize, " ", "must not be empty"},

		{"systemNodeCount 2", keySystemNodeCount, "2", ""},
		{"systemNodeCount 0", keySystemNodeCount, "0", "from 1 to 100"},
		{"systemNodeMaxCount 101", keySystemNodeMax, "101", "from 1 to 100"},
		{"systemNodeVmSize set", keySystemNodeVMSize, "Standard_D4s_v5", ""},

		{"osDiskType Managed", keyOSDiskType, "Managed", ""},
		{"osDiskType lowercase", keyOSDiskType, "ephemeral", "must be one of Managed, Ephemeral"},

		{"clusterTier Standard", keyClusterTier, "Standard", ""},
		{"clusterTier Premium", keyClusterTier, "Premium", "must be one of Free, Standard"},
		{"clusterTier Paid", keyClusterTier, "Paid", "must be one of Free, Standard"},

		{"azurePolicy true", keyAzurePolicy, "true", ""},
		{"azurePolicy yes", keyAzurePolicy, "yes", "must be true or false"},
		{"monitoring true", keyMonitoring, "true", ""},
		{"monitoring on", keyMonitoring, "on", "must be true or false"},

		{"logRetentionDays 30", keyLogRetentionDays, "30", ""},
		{"logRetentionDays 730", keyLogRetentionDays, "730", ""},
		{"logRetentionDays 7", keyLogRetentionDays, "7", "must be a whole number from 30 to 730"},
		{"logRetentionDays 731", keyLogRetentionDays, "731", "must be a whole number from 30 to 730"},

		{"autoUpgradeWindow valid", keyAutoUpgradeWindow, `{"dayOfWeek": "Sunday", "startTime": "01:00", "durationHours": 4, "utcOffset": "+09:00"}`, ""},
		{"autoUpgradeWindow not an object", keyAutoUpgradeWindow, `Sunday`, "must be {dayOfWeek, startTime, durationHours, utcOffset}"},
		{"autoUpgradeWindow unknown field", keyAutoUpgradeWindow, `{"day": "Sunday"}`, "must be {dayOfWeek, startTime, durationHours, utcOffset}"},
		{"nodeOSUpgradeWindow valid", keyNodeOSWindow, `{"dayOfWeek": "Saturday", "startTime": "23:59", "durationHours": 24, "utcOffset": "-05:30"}`, ""},

		{"registryZoneRedundancy on Basic", keyRegistryZoneRed, "true", "needs guestbook:acrSku Premium (it is Basic)"},
		{"registryZoneRedundancy off", keyRegistryZoneRed, "false", ""},

		{"kubernetesVersion MAJOR.MINOR", keyKubernetesVersion, "1.31", ""},
		// The patch channel moves the patch: a pinned one drifts (and says what to use).
		{"kubernetesVersion MAJOR.MINOR.PATCH", keyKubernetesVersion, "1.31.4", "must be MAJOR.MINOR: the patch auto-upgrade channel moves the patch version, so a pinned patch drifts on every preview: use 1.31"},
		{"kubernetesVersion with v", keyKubernetesVersion, "v1.31", "must be MAJOR.MINOR, e.g. 1.33"},
		{"kubernetesVersion major only", keyKubernetesVersion, "1", "must be MAJOR.MINOR, e.g. 1.33"},
		{"kubernetesVersion four parts", keyKubernetesVersion, "1.31.2.1", "must be MAJOR.MINOR, e.g. 1.33"},
		{"kubernetesVersion word", keyKubernetesVersion, "latest", "must be MAJOR.MINOR, e.g. 1.33"},

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

		{"redisImage ECR Public", keyRedisImage, "public.ecr.aws/docker/library/redis:7.2.11", ""},
		{"redisImage MCR", keyRedisImage, "mcr.microsoft.com/oss/bitnami/redis:7.2.5", ""},
		{"redisImage quay", keyRedisImage, "quay.io/opstree/redis:v7.0.15", ""},
		{"redisImage registry.k8s.io", keyRedisImage, "registry.k8s.io/e2e-test-images/redis:5.0.5-alpine", ""},
		{"redisImage ghcr", keyRedisImage, "ghcr.io/acme/redis:7", ""},
		// ACR refuses a Docker Hub cache rule without a credential set
		// (EnforceDockerAuthentication), and the stack's rules have none.
		{"redisImage Docker Hub", keyRedisImage, "docker.io/library/redis:7.2.11-alpine",
			"must not come from Docker Hub: ACR caches Docker Hub only with a credential set, and refuses the stack's cache rule with EnforceDockerAuthentication; " +
				"use Docker's official image from AWS ECR Public: public.ecr.aws/docker/library/redis:7.2.11-alpine"},
		{"redisImage Docker Hub by default", keyRedisImage, "redis:7.2.11-alpine", "use Docker's official image from AWS ECR Public: public.ecr.aws/docker/library/redis:7.2.11-alpine"},
		{"redisImage Docker Hub, not official", keyRedisImage, "bitnami/redis:7", "must not come from Docker Hub"},
		{"redisImage Docker Hub index host", keyRedisImage, "index.docker.io/library/redis:7", "must not come from Docker Hub"},
		{"redisImage registry port", keyRedisImage, "localhost:5000/redis:7", "must come from a registry the stack's registry caches without credentials"},
		{"redisImage private registry", keyRedisImage, "myregistry.azurecr.io/redis:7", "must come from a registry the stack's registry caches without credentials"},
		{"redisImage digest", keyRedisImage, "public.ecr.aws/docker/library/redis@sha256:" + strings.Repeat("0", 64), ""},
		{"redisImage tag and digest", keyRedisImage, "public.ecr.aws/docker/library/redis:7@sha256:" + strings.Repeat("0", 64), ""},
		{"redisImage untagged", keyRedisImage, "redis", "explicit tag or digest"},
		{"redisImage untagged with registry port", keyRedisImage, "localhost:5000/redis", "explicit tag or digest"},
		{"redisImage latest", keyRedisImage, "redis:latest", "must not use the latest tag"},
		{"redisImage latest with registry", keyRedisImage, "public.ecr.aws/docker/library/redis:latest", "must not use the latest tag"},
		{"redisImage uppercase path", keyRedisImage, "Redis:7", "must be an image reference"},
		{"redisImage short digest", keyRedisImage, "redis@sha256:abc", "must be an image reference"},
		{"redisImage spaces", keyRedisImage, "redis: 7", "must be an image reference"},

		{"clusterAdmins two", keyClusterAdmins, admins(admin, "0b7d4e2a-1c3f-4a5b-8d6e-7f8091a2b3c4"), ""},
		{"clusterAdmins a service principal", keyClusterAdmins, `[{"objectId": "` + admin + `", "type": "ServicePrincipal"}]`, ""},
		{"clusterAdmins empty list", keyClusterAdmins, `[]`, "must list at least one Entra principal"},
		{"clusterAdmins a bare id", keyClusterAdmins, `["` + admin + `"]`, "must be a list of {objectId, type}"},
		{"clusterAdmins not a list", keyClusterAdmins, admin, "must be a list of {objectId, type}"},
		{"clusterAdmins a name", keyClusterAdmins, admins("alice@example.com"), "[0].objectId = \"alice@example.com\": must be an Entra object id"},
		{"clusterAdmins no dashes", keyClusterAdmins, admins(strings.ReplaceAll(admin, "-", "")), "[0].objectId = \"" + strings.ReplaceAll(admin, "-", "") + "\": must be an Entra object id"},
		{"clusterAdmins twice", keyClusterAdmins, admins(admin, strings.ToUpper(admin)), "[1].objectId = \"" + strings.ToUpper(admin) + "\": is listed twice"},
		{"clusterAdmins no type", keyClusterAdmins, `[{"objectId": "` + admin + `"}]`, "[0].type = \"\": must be one of User, Group, ServicePrincipal"},
		{"clusterAdmins bad type", keyClusterAdmins, `[{"objectId": "` + admin + `", "type": "App"}]`, "[0].type = \"App\": must be one of User, Group, ServicePrincipal"},

		{"availabilityZones numbers", keyZones, `[1, 2, 3]`, ""},
		{"availabilityZones strings", keyZones, `["1", "3"]`, ""},
		{"availabilityZones zone 4", keyZones, `[1, 4]`, "[1] = \"4\": must be an Azure availability zone: 1, 2 or 3"},
		{"availabilityZones twice", keyZones, `["1", 1]`, "[1] = \"1\": is listed twice"},
		{"availabilityZones not a list", keyZones, "1,2,3", "must be a list"},

		{"apiServerAuthorizedIpRanges host", keyAuthorizedIPs, `["198.51.100.7/32"]`, ""},
		{"apiServerAuthorizedIpRanges no prefix", keyAuthorizedIPs, `["198.51.100.7"]`, "[0] = \"198.51.100.7\": must be an IPv4 CIDR"},
		{"apiServerAuthorizedIpRanges IPv6", keyAuthorizedIPs, `["2001:db8::/32"]`, "[0] = \"2001:db8::/32\": must be an IPv4 CIDR"},
		{"apiServerAuthorizedIpRanges host bits", keyAuthorizedIPs, `["203.0.113.9/24"]`, "[0] = \"203.0.113.9/24\": must have no host bits set: did you mean 203.0.113.0/24?"},
		{"apiServerAuthorizedIpRanges word", keyAuthorizedIPs, `["10.0.0.0/8", "office"]`, "[1] = \"office\": must be an IPv4 CIDR"},

		{"protect true", keyProtect, "true", ""},
		{"protect yes", keyProtect, "yes", "must be true or false"},
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

		{"grantPropagation 0s", keyGrantPropagation, "0s", ""},
		{"grantPropagation 30m", keyGrantPropagation, "30m", ""},
		{"grantPropagation 31m", keyGrantPropagation, "31m", "must be from 0s to 30m"},
		{"grantPropagation negative", keyGrantPropagation, "-1m", "must be from 0s to 30m"},
		{"grantPropagation no unit", keyGrantPropagation, "600", "must be a duration such as 10m, 90s or 0s"},
		{"grantPropagation word", keyGrantPropagation, "ten minutes", "must be a duration such as 10m, 90s or 0s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kv := valid(nil)
			kv[tt.key] = tt.value
			_, err := parseConfig("dev", raw(kv))
			if tt.wantRule == "" {
				if err != nil {
					t.Errorf("parseConfig(%s = %q) error = %v, want nil", tt.key, tt.value, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("parseConfig(%s = %q) error = nil, want one naming the key and %q", tt.key, tt.value, tt.wantRule)
			}
			// A rule about one element of a list names the element: "[i] = value: rule".
			wantKey, wantParts := tt.key, []string{tt.key, strconv.Quote(tt.value), tt.wantRule}
			if i := strings.Index(tt.wantRule, " = "); strings.HasPrefix(tt.wantRule, "[") {
				wantKey += tt.wantRule[:i]
				wantParts = []string{tt.key + tt.wantRule}
			}
			msg := err.Error()
			for _, want := range wantParts {
				if !strings.Contains(msg, want) {
					t.Errorf("parseConfig(%s = %q) error = %q, want it to contain %q", tt.key, tt.value, msg, want)
				}
			}
			if got := badKeys(err); !slices.Equal(got, []string{wantKey}) {
				t.Errorf("parseConfig(%s = %q) reported keys %v, want exactly [%s]", tt.key, tt.value, got, wantKey)
			}
		})
	}
}

// TestRedisUpstream: the Redis image as the stack's registry caches it.
func TestRedisUpstream(t *testing.T) {
	digest := "sha256:" + strings.Repeat("0", 64)
	tests := []struct {
		ref                     string
		source, repository, pin string
	}{
		{"public.ecr.aws/docker/library/redis:7.2.11-alpine", "public.ecr.aws/docker/library/redis", "docker/library/redis", ":7.2.11-alpine"},
		{"docker.io/library/redis:7.2.11-alpine", "docker.io/library/redis", "library/redis", ":7.2.11-alpine"},
		{"redis:7", "docker.io/library/redis", "library/redis", ":7"},
		{"bitnami/redis:7@" + digest, "docker.io/bitnami/redis", "bitnami/redis", ":7@" + digest},
		{"index.docker.io/library/redis@" + digest, "docker.io/library/redis", "library/redis", "@" + digest},
		{"mcr.microsoft.com/oss/bitnami/redis:7", "mcr.microsoft.com/oss/bitnami/redis", "oss/bitnami/redis", ":7"},
	}
	for _, tt := range tests {
		got := Config{RedisImage: tt.ref}.RedisUpstream()
		want := infra.UpstreamImage{Name: "redis", Source: tt.source, Repository: tt.repository, Ref: tt.pin}
		if got != want {
			t.Errorf("RedisUpstream(%s) = %+v, want %+v", tt.ref, got, want)
		}
	}
}

// TestParseConfigProdRules: a stack named prod must be zonal, at least three
// nodes and behind authorized IP ranges; the same values pass in dev.
func TestParseConfigProdRules(t *testing.T) {
	prodOK := map[string]string{keyZones: `[1, 2, 3]`, keyNodeCount: "3", keyAuthorizedIPs: `["203.0.113.0/24"]`,
		keyClusterTier: "Standard", keySystemNodeCount: "3", keySystemNodeMax: "3"}
	tests := []struct {
		name     string
		override map[string]string
		wantKey  string
		wantRule string
	}{
		{"all rules met", nil, "", ""},
		{"no zones", map[string]string{keyZones: `[]`}, keyZones, "must list at least 2 zones in the prod stack"},
		{"one zone", map[string]string{keyZones: `[2]`}, keyZones, "must list at least 2 zones in the prod stack"},
		{"two nodes", map[string]string{keyNodeCount: "2"}, keyNodeCount, "must be at least 3 in the prod stack"},
		{"open API server", map[string]string{keyAuthorizedIPs: `[]`}, keyAuthorizedIPs, "must list the networks allowed to reach the API server"},
		{"Free tier", map[string]string{keyClusterTier: "Free"}, keyClusterTier, "must be Standard in the prod stack"},
		{"one system node", map[string]string{keySystemNodeCount: "1"}, keySystemNodeCount, "must be at least 3 in the prod stack"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kv := valid(prodOK)
			for k, v := range tt.override {
				kv[k] = v
			}
			if _, err := parseConfig("dev", raw(kv)); err != nil {
				t.Errorf("dev stack: parseConfig error = %v, want nil (the rules are prod's)", err)
			}
			_, err := parseConfig("prod", raw(kv))
			if tt.wantRule == "" {
				if err != nil {
					t.Errorf("prod stack: parseConfig error = %v, want nil", err)
				}
				return
			}
			if got := badKeys(err); !slices.Equal(got, []string{tt.wantKey}) {
				t.Errorf("prod stack: reported keys %v, want [%s]", got, tt.wantKey)
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantRule) {
				t.Errorf("prod stack: error = %v, want it to contain %q", err, tt.wantRule)
			}
		})
	}
}

// TestParseConfigPoolRules: rules that need two keys set at once.
func TestParseConfigPoolRules(t *testing.T) {
	window := func(day, start string, hours int, offset string) string {
		return fmt.Sprintf(`{"dayOfWeek": %q, "startTime": %q, "durationHours": %d, "utcOffset": %q}`, day, start, hours, offset)
	}
	tests := []struct {
		name     string
		kv       map[string]string
		wantKeys []string
		wantRule string
	}{
		{"nodeMaxCount below nodeCount", map[string]string{keyNodeCount: "3", keyNodeMaxCount: "2"},
			[]string{keyNodeMaxCount}, "must be at least guestbook:nodeCount (3)"},
		{"systemNodeMaxCount below systemNodeCount", map[string]string{keySystemNodeCount: "3", keySystemNodeMax: "2"},
			[]string{keySystemNodeMax}, "must be at least guestbook:systemNodeCount (3)"},
		{"ephemeral on sizes without a temp disk", map[string]string{keyOSDiskType: "Ephemeral"},
			[]string{keySystemNodeVMSize, keyNodeVMSize}, `"Standard_D2s_v5": must have a temp disk or cache for an ephemeral OS disk`},
		{"ephemeral on sizes with one", map[string]string{keyOSDiskType: "Ephemeral", keyNodeVMSize: "Standard_D4ds_v5", keySystemNodeVMSize: "Standard_DS2_v2"}, nil, ""},
		{"zone-redundant Premium registry", map[string]string{keyRegistryZoneRed: "true", keyAcrSku: "Premium"}, nil, ""},
		{"window day", map[string]string{keyAutoUpgradeWindow: window("sunday", "01:00", 4, "+09:00")},
			[]string{keyAutoUpgradeWindow + ".dayOfWeek"}, "must be one of Monday, Tuesday"},
		{"window start", map[string]string{keyNodeOSWindow: window("Sunday", "24:00", 4, "+09:00")},
			[]string{keyNodeOSWindow + ".startTime"}, "must be HH:MM from 00:00 to 23:59"},
		{"window too short", map[string]string{keyAutoUpgradeWindow: window("Sunday", "01:00", 3, "+09:00")},
			[]string{keyAutoUpgradeWindow + ".durationHours"}, "from 4 to 24"},
		{"window offset", map[string]string{keyAutoUpgradeWindow: window("Sunday", "01:00", 4, "JST")},
			[]string{keyAutoUpgradeWindow + ".utcOffset"}, "+HH:MM or -HH:MM"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := parseConfig("dev", raw(valid(tt.kv)))
			if got := badKeys(err); !slices.Equal(got, tt.wantKeys) {
				t.Fatalf("parseConfig reported keys %v, want %v (error: %v)", got, tt.wantKeys, err)
			}
			if tt.wantRule != "" && !strings.Contains(err.Error(), tt.wantRule) {
				t.Errorf("parseConfig error = %q, want it to contain %q", err, tt.wantRule)
			}
			if err == nil && cfg.OSDiskType == "Ephemeral" {
				// An ephemeral disk asks for what fits the temp disk or cache, at most AKS's 128.
				if got := cfg.OSDiskSizeGB(cfg.NodeVMSize); got != 128 {
					t.Errorf("OSDiskSizeGB(%s) = %d, want 128", cfg.NodeVMSize, got)
				}
				if got := cfg.OSDiskSizeGB(cfg.SystemNodeVMSize); got != 86 {
					t.Errorf("OSDiskSizeGB(%s) = %d, want its 86 GiB cache", cfg.SystemNodeVMSize, got)
				}
			}
		})
	}
}

func TestParseConfigReportsEveryProblemAtOnce(t *testing.T) {
	_, err := parseConfig("dev", raw(map[string]string{
		keyAcrSku:      "Gold",
		keyNodeCount:   "zero",
		keyReplicas:    "0",
		keyNamespace:   "kube-system",
		keyImageTag:    "a/b",
		keyServiceType: "NodePort",
		keyRedisImage:  "redis:latest",
		keyZones:       `[0]`,
		keyProtect:     "on",
		keyWriteBurst:  "0",
		keyMaxEntries:  "lots",
	}))
	if err == nil {
		t.Fatal("parseConfig(thirteen problems) error = nil")
	}
	want := []string{keyNodeCount, keyLocation, keyAcrSku, keyReplicas, keyNamespace, keyImageTag, keyServiceType, keyRedisImage,
		keyClusterAdmins, keyZones + "[0]", keyProtect, keyWriteBurst, keyMaxEntries}
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
		// Lists and the flag are untyped for the same reason.
		"clusterAdmins":               {"", ""},
		"availabilityZones":           {"", "[]"},
		"apiServerAuthorizedIpRanges": {"", "[]"},
		"protect":                     {"", strconv.FormatBool(defaults.Protect)},
		"writesPerMinute":             {"", strconv.Itoa(defaults.WritesPerMinute)},
		"writeBurst":                  {"", strconv.Itoa(defaults.WriteBurst)},
		"maxEntries":                  {"", strconv.Itoa(defaults.MaxEntries)},
		"grantPropagation":            {"string", shortDuration(defaults.GrantPropagation)},
		"systemNodeCount":             {"", strconv.Itoa(defaults.SystemNodeCount)},
		"systemNodeMaxCount":          {"", strconv.Itoa(defaults.SystemNodeMaxCount)},
		"systemNodeVmSize":            {"string", defaults.SystemNodeVMSize},
		"osDiskType":                  {"string", defaults.OSDiskType},
		"clusterTier":                 {"string", defaults.ClusterTier},
		"azurePolicy":                 {"", strconv.FormatBool(defaults.AzurePolicy)},
		"monitoring":                  {"", strconv.FormatBool(defaults.Monitoring)},
		"logRetentionDays":            {"", strconv.Itoa(defaults.LogRetentionDays)},
		"autoUpgradeWindow":           {"", ""},
		"nodeOSUpgradeWindow":         {"", ""},
		"registryZoneRedundancy":      {"", strconv.FormatBool(defaults.RegistryZoneRedundancy)},
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
		if w.def == "" && decl.Default == nil {
			continue // no default: every stack sets it (clusterAdmins)
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

// TestStackConfigIsValid parses each stack's file the way the engine would pass
// it, so a typo there fails here and not in `pulumi up`, and checks what makes
// each stack what it is.
func TestStackConfigIsValid(t *testing.T) {
	dev := stackConfig(t, "dev")
	prod := stackConfig(t, "prod")
	tests := []struct {
		name      string
		got, want any
	}{
		{"dev location", dev.Location, "japaneast"},
		{"dev protect", dev.Protect, false},
		{"prod protect", prod.Protect, true},
		{"prod zones", prod.AvailabilityZones, []string{"1", "2", "3"}},
		{"prod registry SKU", prod.AcrSku, "Premium"},
		{"prod nodes", prod.NodeCount >= 3, true},
		{"prod restricts the API server", len(prod.APIServerAuthorizedIPRanges) > 0, true},
		// The production baseline (docs/baseline.md) is prod's; dev opts in.
		{"dev tier", dev.ClusterTier, "Free"},
		{"dev monitoring", dev.Monitoring, false},
		{"prod tier", prod.ClusterTier, "Standard"},
		{"prod monitoring", prod.MonitoringConfig(), &infra.Monitoring{RetentionDays: 90}},
		{"prod policy", prod.AzurePolicy, true},
		{"prod ephemeral OS disks", []int{prod.OSDiskSizeGB(prod.NodeVMSize), prod.OSDiskSizeGB(prod.SystemNodeVMSize)}, []int{128, 128}},
		{"prod system nodes", prod.SystemNodeCount >= 3, true},
		{"prod maintenance windows", prod.MaintenanceConfig().AutoUpgrade != nil && prod.MaintenanceConfig().NodeOS != nil, true},
		{"prod zone-redundant registry", prod.RegistryZoneRedundancy, true},
	}
	for _, tt := range tests {
		if !reflect.DeepEqual(tt.got, tt.want) {
			t.Errorf("%s = %v, want %v", tt.name, tt.got, tt.want)
		}
	}
}

// stackConfig parses Pulumi.<name>.yaml as the engine passes it to the program
// (lists as JSON). The cluster admins are the one key each user sets for
// themselves; the files leave it unset, so it is supplied here.
func stackConfig(t *testing.T, name string) Config {
	t.Helper()
	data, err := os.ReadFile("Pulumi." + name + ".yaml")
	if err != nil {
		t.Fatal(err)
	}
	var stack struct{ Config map[string]any }
	if err := yaml.Unmarshal(data, &stack); err != nil {
		t.Fatalf("parsing Pulumi.%s.yaml: %v", name, err)
	}
	kv := map[string]string{keyClusterAdmins: admins(admin)}
	for k, v := range stack.Config {
		if s, ok := v.(string); ok {
			kv[k] = s
			continue
		}
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		kv[k] = string(b)
	}
	cfg, err := parseConfig(name, raw(kv))
	if err != nil {
		t.Fatalf("%s stack configuration is invalid: %v", name, err)
	}
	return cfg
}
