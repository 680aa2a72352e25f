// config.go: the stack's configuration contract, read once and validated as a whole.

package main

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/config"
)

// Config is the whole stack's configuration. Keys live in the project's namespace
// ("guestbook:<key>") except the region, which is the azure-native provider's.
type Config struct {
	Location          string // azure-native:location
	AcrSku            string // guestbook:acrSku
	NodeCount         int    // guestbook:nodeCount
	NodeMaxCount      int    // guestbook:nodeMaxCount
	NodeVMSize        string // guestbook:nodeVmSize
	KubernetesVersion string // guestbook:kubernetesVersion ("" = AKS default)
	Replicas          int    // guestbook:replicas
	Namespace         string // guestbook:namespace
	ImageTag          string // guestbook:imageTag
	ServiceType       string // guestbook:serviceType
	RedisImage        string // guestbook:redisImage
	WritesPerMinute   int    // guestbook:writesPerMinute
	WriteBurst        int    // guestbook:writeBurst
	MaxEntries        int    // guestbook:maxEntries
}

// Configuration keys, as users type them in `pulumi config set`.
const (
	keyLocation          = "azure-native:location"
	keyAcrSku            = "guestbook:acrSku"
	keyNodeCount         = "guestbook:nodeCount"
	keyNodeMaxCount      = "guestbook:nodeMaxCount"
	keyNodeVMSize        = "guestbook:nodeVmSize"
	keyKubernetesVersion = "guestbook:kubernetesVersion"
	keyReplicas          = "guestbook:replicas"
	keyNamespace         = "guestbook:namespace"
	keyImageTag          = "guestbook:imageTag"
	keyServiceType       = "guestbook:serviceType"
	keyRedisImage        = "guestbook:redisImage"
	keyWritesPerMinute   = "guestbook:writesPerMinute"
	keyWriteBurst        = "guestbook:writeBurst"
	keyMaxEntries        = "guestbook:maxEntries"
)

// DefaultConfig returns the defaults of every key that has one. Pulumi.yaml declares
// the same defaults (a test keeps the two equal) so `pulumi config` shows them.
func DefaultConfig() Config {
	return Config{
		// Basic: the guestbook pushes one small image; Standard/Premium buy storage,
		// throughput and geo-replication it does not need.
		AcrSku: "Basic",
		// Two nodes so a node drain or upgrade never takes every replica down at once;
		// the autoscaler may add one more under load.
		NodeCount:    2,
		NodeMaxCount: 3,
		// D2s v5: 2 vCPU / 8 GiB, the smallest general-purpose size AKS recommends for
		// system pools, and available in most regions.
		NodeVMSize: "Standard_D2s_v5",
		// Empty: AKS picks its default version; the patch auto-upgrade channel keeps it current.
		KubernetesVersion: "",
		// Two replicas, spread over the two nodes, survive the loss of either.
		Replicas: 2,
		// A namespace of its own, so Pod Security and NetworkPolicies apply to the app alone.
		Namespace: "guestbook",
		// "dev" matches the dev stack. Reusing a tag is safe: the Deployment runs the
		// image by digest, so a new push is a new rollout and an old pod never changes.
		ImageTag: "dev",
		// LoadBalancer gives the demo a public URL; ClusterIP keeps it private.
		ServiceType: "LoadBalancer",
		// Pinned Redis 7 (BSD-licensed 7.2 line, Alpine for size): a moving tag would
		// change the storage engine under the app on any restart.
		RedisImage: "docker.io/library/redis:7.2.11-alpine",
		// Per client address (the load balancer keeps it): 5 entries at once, then
		// one every 6 seconds. A person signing a guestbook never meets the limit; a
		// script filling Redis meets it at its sixth entry.
		WritesPerMinute: 10,
		WriteBurst:      5,
		// The newest 10,000 entries are kept (100 pages of history); at the largest
		// entry the server accepts (about 4 KB as JSON) that is 40 MB, well inside
		// Redis's 200 MB maxmemory.
		MaxEntries: 10000,
	}
}

// FieldError is one configuration problem: which key, the value it had and the rule
// the value broke.
type FieldError struct {
	Key, Value, Rule string
}

func (e *FieldError) Error() string {
	return fmt.Sprintf("%s = %q: %s", e.Key, e.Value, e.Rule)
}

// LoadConfig reads the stack's configuration from ctx and validates it. The error,
// if any, lists every problem at once.
func LoadConfig(ctx *pulumi.Context) (Config, error) {
	return parseConfig(func(key string) string { return config.Get(ctx, key) })
}

// parseConfig builds a Config from raw values (lookup returns "" for an unset key),
// applying defaults, then validates it. Parse and rule errors are reported together.
func parseConfig(lookup func(key string) string) (Config, error) {
	cfg := DefaultConfig()
	var errs []error
	str := func(key string, dst *string) {
		if v := lookup(key); v != "" {
			*dst = v
		}
	}
	num := func(key string, dst *int) {
		v := lookup(key)
		if v == "" {
			return
		}
		n, err := strconv.Atoi(v)
		if err != nil {
			// Keep the invalid marker so range rules do not also fire on a zero value.
			*dst = invalidNumber
			errs = append(errs, &FieldError{Key: key, Value: v, Rule: "must be a whole number"})
			return
		}
		*dst = n
	}

	str(keyLocation, &cfg.Location)
	str(keyAcrSku, &cfg.AcrSku)
	num(keyNodeCount, &cfg.NodeCount)
	num(keyNodeMaxCount, &cfg.NodeMaxCount)
	str(keyNodeVMSize, &cfg.NodeVMSize)
	str(keyKubernetesVersion, &cfg.KubernetesVersion)
	num(keyReplicas, &cfg.Replicas)
	str(keyNamespace, &cfg.Namespace)
	str(keyImageTag, &cfg.ImageTag)
	str(keyServiceType, &cfg.ServiceType)
	str(keyRedisImage, &cfg.RedisImage)
	num(keyWritesPerMinute, &cfg.WritesPerMinute)
	num(keyWriteBurst, &cfg.WriteBurst)
	num(keyMaxEntries, &cfg.MaxEntries)

	errs = append(errs, cfg.problems()...)
	if len(errs) > 0 {
		return Config{}, &ConfigError{Problems: errs}
	}
	return cfg, nil
}

// ConfigError lists every problem of a stack's configuration, one per line.
type ConfigError struct {
	Problems []error
}

func (e *ConfigError) Error() string {
	var b strings.Builder
	b.WriteString("invalid stack configuration (fix with `pulumi config set <key> <value>`):")
	for _, p := range e.Problems {
		b.WriteString("\n  - ")
		b.WriteString(p.Error())
	}
	return b.String()
}

// Unwrap returns the problems, so errors.As finds each FieldError.
func (e *ConfigError) Unwrap() []error { return e.Problems }

// invalidNumber marks a numeric field whose raw value did not parse; Validate skips
// it because the parse error already names the key.
const invalidNumber = -1 << 31

var (
	kubernetesVersionRE = regexp.MustCompile(`^[0-9]+\.[0-9]+(\.[0-9]+)?$`)
	// dns1123LabelRE is a Kubernetes namespace name: RFC 1123 label, at most 63 characters.
	dns1123LabelRE = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$`)
	// imageTagRE is the OCI distribution spec's tag grammar.
	imageTagRE = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)
	// imageRefRE is an image reference per the distribution/reference grammar: an
	// optional registry host[:port], path components, then an optional :tag and
	// an optional @digest.
	imageRefRE = regexp.MustCompile(`^` +
		`(?:(?P<host>[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::[0-9]+)?)/)?` +
		`(?P<path>[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*)` +
		`(?::(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))?` +
		`(?:@(?P<digest>[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}))?$`)
)

// Validate checks every rule and returns all broken ones joined, or nil.
func (c Config) Validate() error {
	return errors.Join(c.problems()...)
}

// problems returns one FieldError per broken rule.
func (c Config) problems() []error {
	var errs []error
	fail := func(key, value, rule string) {
		errs = append(errs, &FieldError{Key: key, Value: value, Rule: rule})
	}
	oneOf := func(key, value string, allowed ...string) {
		if !slices.Contains(allowed, value) {
			fail(key, value, "must be one of "+strings.Join(allowed, ", "))
		}
	}
	between := func(key string, n, lo, hi int) bool {
		if n == invalidNumber {
			return false
		}
		if n < lo || n > hi {
			fail(key, strconv.Itoa(n), fmt.Sprintf("must be a whole number from %d to %d", lo, hi))
			return false
		}
		return true
	}

	if strings.TrimSpace(c.Location) == "" {
		fail(keyLocation, c.Location, "is required: the Azure region, e.g. japaneast")
	}
	oneOf(keyAcrSku, c.AcrSku, "Basic", "Standard", "Premium")
	countOK := between(keyNodeCount, c.NodeCount, 1, 100)
	if between(keyNodeMaxCount, c.NodeMaxCount, 1, 100) && countOK && c.NodeMaxCount < c.NodeCount {
		fail(keyNodeMaxCount, strconv.Itoa(c.NodeMaxCount),
			fmt.Sprintf("must be at least %s (%d): the autoscaler scales between the two", keyNodeCount, c.NodeCount))
	}
	if strings.TrimSpace(c.NodeVMSize) == "" {
		fail(keyNodeVMSize, c.NodeVMSize, "must not be empty")
	}
	if c.KubernetesVersion != "" && !kubernetesVersionRE.MatchString(c.KubernetesVersion) {
		fail(keyKubernetesVersion, c.KubernetesVersion, "must be MAJOR.MINOR or MAJOR.MINOR.PATCH, e.g. 1.31, or unset for the AKS default")
	}
	between(keyReplicas, c.Replicas, 1, 50)
	switch {
	case !dns1123LabelRE.MatchString(c.Namespace):
		fail(keyNamespace, c.Namespace, "must be an RFC 1123 label: at most 63 lowercase letters, digits and '-', starting and ending with a letter or digit")
	case c.Namespace == "default" || strings.HasPrefix(c.Namespace, "kube-"):
		fail(keyNamespace, c.Namespace, "must not be default or a kube-* system namespace: the app gets a namespace of its own")
	}
	if !imageTagRE.MatchString(c.ImageTag) {
		fail(keyImageTag, c.ImageTag, "must be a valid image tag: [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
	}
	oneOf(keyServiceType, c.ServiceType, "LoadBalancer", "ClusterIP")
	if rule := checkPinnedImage(c.RedisImage); rule != "" {
		fail(keyRedisImage, c.RedisImage, rule)
	}
	// Above 600 a minute (10 a second) the limit stops no script; a burst above
	// 100 lets one address bury a page of other people's entries at once.
	between(keyWritesPerMinute, c.WritesPerMinute, 1, 600)
	between(keyWriteBurst, c.WriteBurst, 1, 100)
	// At least the page's 100 entries; at most what Redis's 200 MB maxmemory holds
	// at the largest entry size (about 4 KB), with room for the rest.
	between(keyMaxEntries, c.MaxEntries, 100, 20000)
	return errs
}

// checkPinnedImage returns the rule ref breaks, or "" if it is a valid image
// reference pinned by an explicit tag other than latest, or by digest.
func checkPinnedImage(ref string) string {
	m := imageRefRE.FindStringSubmatch(ref)
	if m == nil {
		return "must be an image reference like docker.io/library/redis:7.2.11-alpine"
	}
	tag, digest := m[imageRefRE.SubexpIndex("tag")], m[imageRefRE.SubexpIndex("digest")]
	switch {
	case tag == "" && digest == "":
		return "must name an explicit tag or digest: an untagged image means latest"
	case tag == "latest":
		return "must not use the latest tag: pin a version or a digest"
	}
	return ""
}
