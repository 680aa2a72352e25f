// config.go: the stack's configuration contract, read once and validated as a whole.

package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/config"

	"github.com/guestbook-aks/guestbook/infra"
)

// Config is the whole stack's configuration. Keys live in the project's namespace
// ("guestbook:<key>") except the region, which is the azure-native provider's.
type Config struct {
	Location          string // azure-native:location
	AcrSku            string // guestbook:acrSku
	NodeCount         int    // guestbook:nodeCount
	NodeMaxCount      int    // guestbook:nodeMaxCount
	NodeVMSize        string // guestbook:nodeVmSize
	KubernetesVersion string // guestbook:kubernetesVersion, MAJOR.MINOR ("" = AKS default)
	Replicas          int    // guestbook:replicas
	Namespace         string // guestbook:namespace
	ImageTag          string // guestbook:imageTag
	ServiceType       string // guestbook:serviceType
	RedisImage        string // guestbook:redisImage

	// The system pool runs only critical add-ons (it is tainted CriticalAddonsOnly);
	// NodeCount, NodeMaxCount and NodeVMSize size the user pool the app runs on.
	SystemNodeCount    int    // guestbook:systemNodeCount
	SystemNodeMaxCount int    // guestbook:systemNodeMaxCount
	SystemNodeVMSize   string // guestbook:systemNodeVmSize
	// OSDiskType is both pools' OS disk: Managed, or Ephemeral on the VM size's
	// temp disk (sizes in ephemeralOSDiskGB only).
	OSDiskType string // guestbook:osDiskType

	// ClusterTier is the AKS pricing tier: Free, or Standard with the uptime SLA.
	ClusterTier string // guestbook:clusterTier
	// AzurePolicy turns on the Azure Policy add-on.
	AzurePolicy bool // guestbook:azurePolicy
	// Monitoring adds a Log Analytics workspace, Container insights and the
	// cluster's and registry's diagnostic settings; LogRetentionDays is how long
	// the workspace keeps them.
	Monitoring       bool // guestbook:monitoring
	LogRetentionDays int  // guestbook:logRetentionDays
	// AutoUpgradeWindow and NodeOSUpgradeWindow are the planned maintenance
	// windows of the patch and node-image channels; nil means any time.
	AutoUpgradeWindow   *MaintenanceWindow // guestbook:autoUpgradeWindow
	NodeOSUpgradeWindow *MaintenanceWindow // guestbook:nodeOSUpgradeWindow
	// RegistryZoneRedundancy makes the (Premium) registry zone-redundant.
	RegistryZoneRedundancy bool // guestbook:registryZoneRedundancy

	// ClusterAdmins are the Entra principals (users, groups, service principals)
	// granted "Azure Kubernetes Service RBAC Cluster Admin": with local accounts
	// disabled, the only way into the cluster. The deploying identity is one of them.
	ClusterAdmins []infra.Principal // guestbook:clusterAdmins
	// AvailabilityZones spread the node pool; empty means no zone pinning.
	AvailabilityZones []string // guestbook:availabilityZones
	// APIServerAuthorizedIPRanges restrict who reaches the API server; empty means anyone
	// (still behind Entra ID authentication).
	APIServerAuthorizedIPRanges []string // guestbook:apiServerAuthorizedIpRanges
	// Protect marks the resource group, registry and cluster protected: `pulumi destroy`
	// and replacements stop at them until unprotected.
	Protect bool // guestbook:protect

	// GrantPropagation is how old a new grant must be before what needs it is
	// sent: the cluster's create, the first Kubernetes call (see
	// infra.AzureArgs.GrantPropagation).
	GrantPropagation time.Duration // guestbook:grantPropagation

	// Stack is the stack's name; a stack named prod must meet the production rules.
	Stack string

	// unparsed holds the keys whose raw value did not parse; their rules are
	// skipped because the parse error already names the key.
	unparsed        map[string]bool
	WritesPerMinute int // guestbook:writesPerMinute
	WriteBurst      int // guestbook:writeBurst
	MaxEntries      int // guestbook:maxEntries
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
	keyClusterAdmins     = "guestbook:clusterAdmins"
	keyZones             = "guestbook:availabilityZones"
	keyAuthorizedIPs     = "guestbook:apiServerAuthorizedIpRanges"
	keyProtect           = "guestbook:protect"
	keyWritesPerMinute   = "guestbook:writesPerMinute"
	keyWriteBurst        = "guestbook:writeBurst"
	keyMaxEntries        = "guestbook:maxEntries"
	keyGrantPropagation  = "guestbook:grantPropagation"
	keySystemNodeCount   = "guestbook:systemNodeCount"
	keySystemNodeMax     = "guestbook:systemNodeMaxCount"
	keySystemNodeVMSize  = "guestbook:systemNodeVmSize"
	keyOSDiskType        = "guestbook:osDiskType"
	keyClusterTier       = "guestbook:clusterTier"
	keyAzurePolicy       = "guestbook:azurePolicy"
	keyMonitoring        = "guestbook:monitoring"
	keyLogRetentionDays  = "guestbook:logRetentionDays"
	keyAutoUpgradeWindow = "guestbook:autoUpgradeWindow"
	keyNodeOSWindow      = "guestbook:nodeOSUpgradeWindow"
	keyRegistryZoneRed   = "guestbook:registryZoneRedundancy"
)

// MaintenanceWindow is a weekly planned maintenance window, as configured:
// {dayOfWeek, startTime, durationHours, utcOffset}.
type MaintenanceWindow struct {
	DayOfWeek     string `json:"dayOfWeek"`
	StartTime     string `json:"startTime"`
	DurationHours int    `json:"durationHours"`
	UTCOffset     string `json:"utcOffset"`
}

// prodStack is the stack the production rules apply to (Pulumi.prod.yaml).
const prodStack = "prod"

// DefaultConfig returns the defaults of every key that has one. Pulumi.yaml declares
// the same defaults (a test keeps the two equal) so `pulumi config` shows them.
func DefaultConfig() Config {
	return Config{
		// Basic: the guestbook pushes one small image; Standard/Premium buy storage,
		// throughput and geo-replication it does not need.
		AcrSku: "Basic",
		// Dev runs two nodes, as before the pools were split: one system node for
		// the add-ons, one user node for the app, which the autoscaler may grow
		// to three under load. The prod stack runs three of each, one per zone.
		NodeCount:          1,
		NodeMaxCount:       3,
		SystemNodeCount:    1,
		SystemNodeMaxCount: 2,
		// D2s v5: 2 vCPU / 8 GiB, the smallest general-purpose size AKS recommends for
		// system pools, and available in most regions. It has no temp disk, so
		// its OS disk is managed; prod's D4ds v5 carries an ephemeral one.
		NodeVMSize:       "Standard_D2s_v5",
		SystemNodeVMSize: "Standard_D2s_v5",
		OSDiskType:       "Managed",
		// Free: no uptime SLA, which a dev cluster does not need; prod is Standard.
		ClusterTier: "Free",
		// Log Analytics bills per GB ingested: dev opts in. 30 days is what a
		// workspace keeps at no retention charge.
		Monitoring:       false,
		LogRetentionDays: 30,
		// Empty: AKS picks its default version; the patch auto-upgrade channel keeps it current.
		KubernetesVersion: "",
		// Ten minutes: Azure documents up to 10 minutes for a role assignment to take
		// effect (https://learn.microsoft.com/azure/role-based-access-control/troubleshooting,
		// "Role assignment changes are not being detected"), and AKS refuses a create whose
		// Managed Identity Operator grant it does not see yet with
		// CustomKubeletIdentityMissingPermissionError (Azure/azure-service-operator#3267).
		// Only a first deploy pays it: a grant older than this costs nothing.
		GrantPropagation: 10 * time.Minute,
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
		// change the storage engine under the app on any restart. Docker's official
		// image from AWS ECR Public, which carries it under docker/library/: ACR caches
		// that anonymously, and refuses Docker Hub without a credential set.
		RedisImage: "public.ecr.aws/docker/library/redis:7.2.11-alpine",
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
	return parseConfig(ctx.Stack(), func(key string) string { return config.Get(ctx, key) })
}

// parseConfig builds a Config from raw values (lookup returns "" for an unset key),
// applying defaults, then validates it. Parse and rule errors are reported together.
func parseConfig(stack string, lookup func(key string) string) (Config, error) {
	cfg := DefaultConfig()
	cfg.Stack = stack
	var errs []error
	unparsed := func(key, v, rule string) {
		if cfg.unparsed == nil {
			cfg.unparsed = map[string]bool{}
		}
		cfg.unparsed[key] = true
		errs = append(errs, &FieldError{Key: key, Value: v, Rule: rule})
	}
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
	// Lists arrive as JSON (`pulumi config set --path 'key[0]' value` writes a
	// YAML list); elements may be strings or numbers (zones are often typed as 1).
	list := func(key string, dst *[]string) {
		v := lookup(key)
		if v == "" {
			return
		}
		var raw []any
		if err := json.Unmarshal([]byte(v), &raw); err != nil {
			unparsed(key, v, fmt.Sprintf("must be a list: pulumi config set --path '%s[0]' <value>", strings.TrimPrefix(key, "guestbook:")))
			return
		}
		out := make([]string, 0, len(raw))
		for _, e := range raw {
			switch e := e.(type) {
			case string:
				out = append(out, e)
			case float64:
				out = append(out, strconv.FormatFloat(e, 'f', -1, 64))
			default:
				out = append(out, fmt.Sprint(e))
			}
		}
		*dst = out
	}
	duration := func(key string, dst *time.Duration) {
		v := lookup(key)
		if v == "" {
			return
		}
		d, err := time.ParseDuration(v)
		if err != nil {
			*dst = invalidDuration
			errs = append(errs, &FieldError{Key: key, Value: v, Rule: "must be a duration such as 10m, 90s or 0s"})
			return
		}
		*dst = d
	}
	boolean := func(key string, dst *bool) {
		v := lookup(key)
		if v == "" {
			return
		}
		b, err := strconv.ParseBool(v)
		if err != nil {
			errs = append(errs, &FieldError{Key: key, Value: v, Rule: "must be true or false"})
			return
		}
		*dst = b
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
	if v := lookup(keyClusterAdmins); v != "" {
		if err := json.Unmarshal([]byte(v), &cfg.ClusterAdmins); err != nil {
			cfg.ClusterAdmins = nil
			unparsed(keyClusterAdmins, v, "must be a list of {objectId, type}: pulumi config set --path 'clusterAdmins[0].objectId' <id> "+
				"and --path 'clusterAdmins[0].type' User|Group|ServicePrincipal")
		}
	}
	list(keyZones, &cfg.AvailabilityZones)
	list(keyAuthorizedIPs, &cfg.APIServerAuthorizedIPRanges)
	boolean(keyProtect, &cfg.Protect)
	num(keyWritesPerMinute, &cfg.WritesPerMinute)
	num(keyWriteBurst, &cfg.WriteBurst)
	num(keyMaxEntries, &cfg.MaxEntries)
	duration(keyGrantPropagation, &cfg.GrantPropagation)
	num(keySystemNodeCount, &cfg.SystemNodeCount)
	num(keySystemNodeMax, &cfg.SystemNodeMaxCount)
	str(keySystemNodeVMSize, &cfg.SystemNodeVMSize)
	str(keyOSDiskType, &cfg.OSDiskType)
	str(keyClusterTier, &cfg.ClusterTier)
	boolean(keyAzurePolicy, &cfg.AzurePolicy)
	boolean(keyMonitoring, &cfg.Monitoring)
	num(keyLogRetentionDays, &cfg.LogRetentionDays)
	boolean(keyRegistryZoneRed, &cfg.RegistryZoneRedundancy)
	for _, w := range []struct {
		key string
		dst **MaintenanceWindow
	}{{keyAutoUpgradeWindow, &cfg.AutoUpgradeWindow}, {keyNodeOSWindow, &cfg.NodeOSUpgradeWindow}} {
		key, dst := w.key, w.dst
		v := lookup(key)
		if v == "" {
			continue
		}
		w := &MaintenanceWindow{}
		dec := json.NewDecoder(strings.NewReader(v))
		dec.DisallowUnknownFields()
		if err := dec.Decode(w); err != nil {
			unparsed(key, v, "must be {dayOfWeek, startTime, durationHours, utcOffset}: pulumi config set --path '"+
				strings.TrimPrefix(key, "guestbook:")+".dayOfWeek' Sunday (and .startTime 02:00, .durationHours 4, .utcOffset +09:00)")
			continue
		}
		*dst = w
	}

	errs = append(errs, cfg.problems()...)
	if len(errs) > 0 {
		return Config{}, &ConfigError{Problems: errs}
	}
	// Object ids are case-insensitive; one spelling keeps assignment names stable.
	for i := range cfg.ClusterAdmins {
		cfg.ClusterAdmins[i].ObjectID = strings.ToLower(cfg.ClusterAdmins[i].ObjectID)
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

// invalidDuration marks a duration field whose raw value did not parse.
const invalidDuration = time.Duration(-1 << 62)

// maxGrantPropagation bounds guestbook:grantPropagation: beyond half an hour a
// grant that AKS still does not see is missing, not propagating.
const maxGrantPropagation = 30 * time.Minute

var (
	kubernetesVersionRE = regexp.MustCompile(`^[0-9]+\.[0-9]+$`)
	patchVersionRE      = regexp.MustCompile(`^([0-9]+\.[0-9]+)\.[0-9]+$`)
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
	oneOf := func(key, value string, allowed ...string) { oneOfRule(fail, key, value, allowed...) }
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
	// A node pool's autoscaler bounds and VM size; the result says its count is valid.
	pool := func(countKey, maxKey, sizeKey string, count, maxCount int, size string) bool {
		countOK := between(countKey, count, 1, 100)
		if between(maxKey, maxCount, 1, 100) && countOK && maxCount < count {
			fail(maxKey, strconv.Itoa(maxCount),
				fmt.Sprintf("must be at least %s (%d): the autoscaler scales between the two", countKey, count))
		}
		if strings.TrimSpace(size) == "" {
			fail(sizeKey, size, "must not be empty")
		}
		return countOK
	}
	countOK := pool(keyNodeCount, keyNodeMaxCount, keyNodeVMSize, c.NodeCount, c.NodeMaxCount, c.NodeVMSize)
	sysOK := pool(keySystemNodeCount, keySystemNodeMax, keySystemNodeVMSize, c.SystemNodeCount, c.SystemNodeMaxCount, c.SystemNodeVMSize)
	c.operationsProblems(fail, sysOK)
	c.versionProblems(fail)
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
	c.accessProblems(fail)
	c.zoneProblems(fail, countOK)
	// Above 600 a minute (10 a second) the limit stops no script; a burst above
	// 100 lets one address bury a page of other people's entries at once.
	between(keyWritesPerMinute, c.WritesPerMinute, 1, 600)
	between(keyWriteBurst, c.WriteBurst, 1, 100)
	// At least the page's 100 entries; at most what Redis's 200 MB maxmemory holds
	// at the largest entry size (about 4 KB), with room for the rest.
	between(keyMaxEntries, c.MaxEntries, 100, 20000)
	if d := c.GrantPropagation; d != invalidDuration && (d < 0 || d > maxGrantPropagation) {
		fail(keyGrantPropagation, shortDuration(d), "must be from 0s to "+shortDuration(maxGrantPropagation)+
			": how long a new Managed Identity Operator grant is given to propagate before the cluster is created")
	}
	return errs
}

// ephemeralOSDiskGB is, for the VM sizes the stack knows can hold an ephemeral
// OS disk, the GiB of the disk AKS places it on: the temp disk of the Ddsv5,
// Dadsv5 and Edsv5 sizes (https://learn.microsoft.com/azure/virtual-machines/sizes/general-purpose/ddsv5-series,
// .../dadsv5-series, .../memory-optimized/edsv5-series), the cache of DSv2
// (https://learn.microsoft.com/azure/aks/concepts-storage#ephemeral-os-disk).
// Sizes without a temp disk (Dsv5, Dasv5) cannot hold one. AKS makes the OS disk
// 128 GB unless told, and refuses an ephemeral disk that does not fit, so the
// stack asks for min(128, this).
var ephemeralOSDiskGB = map[string]int{
	"Standard_D2ds_v5": 75, "Standard_D4ds_v5": 150, "Standard_D8ds_v5": 300, "Standard_D16ds_v5": 600, "Standard_D32ds_v5": 1200,
	"Standard_D2ads_v5": 75, "Standard_D4ads_v5": 150, "Standard_D8ads_v5": 300, "Standard_D16ads_v5": 600,
	"Standard_E2ds_v5": 75, "Standard_E4ds_v5": 150, "Standard_E8ds_v5": 300, "Standard_E16ds_v5": 600,
	"Standard_DS2_v2": 86, "Standard_DS3_v2": 172, "Standard_DS4_v2": 344,
}

// defaultOSDiskGB is the OS disk AKS gives a node unless told otherwise.
const defaultOSDiskGB = 128

// OSDiskSizeGB is the OS disk size the stack asks for a pool of vmSize: AKS's
// default for a managed disk (said, so a refresh reads back what was sent), what
// fits the temp disk for an ephemeral one.
func (c Config) OSDiskSizeGB(vmSize string) int {
	if c.OSDiskType != "Ephemeral" {
		return defaultOSDiskGB
	}
	return min(defaultOSDiskGB, ephemeralOSDiskGB[vmSize])
}

var (
	weekdays = []string{"Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"}
	// The formats of MaintenanceWindow's startTime ("00:00" to "23:59") and
	// utcOffset ("+/-HH:mm") in the AKS API.
	startTimeRE = regexp.MustCompile(`^([01][0-9]|2[0-3]):[0-5][0-9]$`)
	utcOffsetRE = regexp.MustCompile(`^[+-](0[0-9]|1[0-4]):[0-5][0-9]$`)
)

// oneOfRule reports to fail unless value is one of allowed, and says whether it is.
func oneOfRule(fail func(key, value, rule string), key, value string, allowed ...string) bool {
	if !slices.Contains(allowed, value) {
		fail(key, value, "must be one of "+strings.Join(allowed, ", "))
		return false
	}
	return true
}

// operationsProblems checks the production-baseline keys: pools' OS disks, the
// cluster's tier, monitoring, maintenance windows and the registry's zone
// redundancy. sysOK says systemNodeCount itself is valid.
func (c Config) operationsProblems(fail func(key, value, rule string), sysOK bool) {
	oneOfKey := func(key, value string, allowed ...string) bool { return oneOfRule(fail, key, value, allowed...) }
	if oneOfKey(keyOSDiskType, c.OSDiskType, "Managed", "Ephemeral") && c.OSDiskType == "Ephemeral" {
		for _, p := range []struct{ key, size string }{{keySystemNodeVMSize, c.SystemNodeVMSize}, {keyNodeVMSize, c.NodeVMSize}} {
			if _, ok := ephemeralOSDiskGB[p.size]; !ok && p.size != "" {
				known := slices.Sorted(maps.Keys(ephemeralOSDiskGB))
				fail(p.key, p.size, "must have a temp disk or cache for an ephemeral OS disk (osDiskType Ephemeral): one of "+
					strings.Join(known, ", ")+"; or set osDiskType Managed")
			}
		}
	}
	oneOfKey(keyClusterTier, c.ClusterTier, "Free", "Standard")
	if c.LogRetentionDays != invalidNumber && (c.LogRetentionDays < 30 || c.LogRetentionDays > 730) {
		fail(keyLogRetentionDays, strconv.Itoa(c.LogRetentionDays), "must be a whole number from 30 to 730: the days a Log Analytics workspace keeps data")
	}
	for _, w := range []struct {
		key    string
		window *MaintenanceWindow
	}{{keyAutoUpgradeWindow, c.AutoUpgradeWindow}, {keyNodeOSWindow, c.NodeOSUpgradeWindow}} {
		if w.window == nil {
			continue
		}
		if !slices.Contains(weekdays, w.window.DayOfWeek) {
			fail(w.key+".dayOfWeek", w.window.DayOfWeek, "must be one of "+strings.Join(weekdays, ", "))
		}
		if !startTimeRE.MatchString(w.window.StartTime) {
			fail(w.key+".startTime", w.window.StartTime, "must be HH:MM from 00:00 to 23:59, in utcOffset's time")
		}
		if d := w.window.DurationHours; d < 4 || d > 24 {
			fail(w.key+".durationHours", strconv.Itoa(d), "must be a whole number from 4 to 24: AKS needs a window of at least four hours")
		}
		if !utcOffsetRE.MatchString(w.window.UTCOffset) {
			fail(w.key+".utcOffset", w.window.UTCOffset, "must be an offset from UTC as +HH:MM or -HH:MM, e.g. +09:00")
		}
	}
	if c.RegistryZoneRedundancy && c.AcrSku != "Premium" {
		fail(keyRegistryZoneRed, "true", fmt.Sprintf("needs %s Premium (it is %s): only Premium registries are zone-redundant", keyAcrSku, c.AcrSku))
	}
	if c.Stack != prodStack {
		return
	}
	if c.ClusterTier == "Free" {
		fail(keyClusterTier, c.ClusterTier, "must be Standard in the prod stack: the Free tier has no uptime SLA")
	}
	if sysOK && c.SystemNodeCount < 3 {
		fail(keySystemNodeCount, strconv.Itoa(c.SystemNodeCount), "must be at least 3 in the prod stack: one system node per zone")
	}
}

// versionProblems checks guestbook:kubernetesVersion, reporting each broken rule to fail.
func (c Config) versionProblems(fail func(key, value, rule string)) {
	v := c.KubernetesVersion
	switch {
	case v == "" || kubernetesVersionRE.MatchString(v):
	case patchVersionRE.MatchString(v):
		// The cluster's upgrade channel is patch: AKS raises the patch version and
		// reports the new one, so a pinned patch shows as a change on every preview
		// and `up` would try to downgrade it (AKS API: "kubernetesVersion ... When
		// <major.minor> is specified, the latest supported GA patch version is
		// chosen automatically", and the patch channel upgrades within the minor).
		fail(keyKubernetesVersion, v, fmt.Sprintf("must be MAJOR.MINOR: the patch auto-upgrade channel moves the patch version, "+
			"so a pinned patch drifts on every preview: use %s", patchVersionRE.FindStringSubmatch(v)[1]))
	default:
		fail(keyKubernetesVersion, v, "must be MAJOR.MINOR, e.g. 1.33, or unset for the AKS default")
	}
}

// shortDuration prints d without zero units: 30m, not 30m0s.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// accessProblems checks who may reach the cluster: its Entra admins and, in prod,
// the networks its API server answers. It reports each broken rule to fail.
func (c Config) accessProblems(fail func(key, value, rule string)) {
	if len(c.ClusterAdmins) == 0 && !c.unparsed[keyClusterAdmins] {
		fail(keyClusterAdmins, "[]", "must list at least one Entra principal: local accounts are disabled, so "+
			"nobody else can administer the cluster, and the deploying identity must be among them "+
			"(az ad signed-in-user show --query id -o tsv)")
	}
	seen := map[string]bool{}
	for i, p := range c.ClusterAdmins {
		key := fmt.Sprintf("%s[%d]", keyClusterAdmins, i)
		id := p.ObjectID
		switch u, err := uuid.Parse(id); {
		case err != nil || u.String() != strings.ToLower(id):
			fail(key+".objectId", id, "must be an Entra object id: a GUID like 00000000-0000-0000-0000-000000000000 (an object id, not a name, UPN or client id)")
		case seen[u.String()]:
			fail(key+".objectId", id, "is listed twice")
		default:
			seen[u.String()] = true
		}
		// ARM refuses an assignment whose principalType is not the principal's.
		if !slices.Contains(infra.PrincipalTypes, p.Type) {
			fail(key+".type", p.Type, "must be one of "+strings.Join(infra.PrincipalTypes, ", ")+": the principal's type in Entra ID")
		}
	}
	for i, r := range c.APIServerAuthorizedIPRanges {
		key := fmt.Sprintf("%s[%d]", keyAuthorizedIPs, i)
		p, err := netip.ParsePrefix(r)
		switch {
		case err != nil || !p.Addr().Is4():
			fail(key, r, "must be an IPv4 CIDR, e.g. 203.0.113.0/24 (AKS authorizes IPv4 ranges only)")
		case p.Masked() != p:
			fail(key, r, fmt.Sprintf("must have no host bits set: did you mean %s?", p.Masked()))
		}
	}
	if c.Stack == prodStack && len(c.APIServerAuthorizedIPRanges) == 0 && !c.unparsed[keyAuthorizedIPs] {
		fail(keyAuthorizedIPs, "", "must list the networks allowed to reach the API server in the prod stack "+
			"(the deploying runner's egress among them)")
	}
}

// zoneProblems checks the node pool's zones, reporting each broken rule to fail;
// countOK says nodeCount itself is valid.
func (c Config) zoneProblems(fail func(key, value, rule string), countOK bool) {
	seen := map[string]bool{}
	for i, z := range c.AvailabilityZones {
		key := fmt.Sprintf("%s[%d]", keyZones, i)
		switch {
		case z != "1" && z != "2" && z != "3":
			fail(key, z, "must be an Azure availability zone: 1, 2 or 3")
		case seen[z]:
			fail(key, z, "is listed twice")
		}
		seen[z] = true
	}
	if c.Stack != prodStack {
		return
	}
	if len(c.AvailabilityZones) < 2 && !c.unparsed[keyZones] {
		fail(keyZones, strings.Join(c.AvailabilityZones, ","), "must list at least 2 zones in the prod stack, so losing a zone leaves nodes running")
	}
	if countOK && c.NodeCount < 3 {
		fail(keyNodeCount, strconv.Itoa(c.NodeCount), "must be at least 3 in the prod stack")
	}
}

// cacheableRegistries are the upstream registries ACR's artifact cache pulls from
// without a credential set (the stack's cache rules have none). Azure's artifact
// cache docs, "Upstream support"
// (https://learn.microsoft.com/azure/container-registry/artifact-cache-overview#upstream-support):
// Microsoft Artifact Registry and AWS ECR Public support unauthenticated pulls only;
// GitHub, Quay and registry.k8s.io both kinds. Docker Hub supports authenticated
// pulls only: see dockerHub.
var cacheableRegistries = []string{"mcr.microsoft.com", "public.ecr.aws", "ghcr.io", "quay.io", "registry.k8s.io"}

// dockerHub is Docker Hub's registry as runtimes name it. ACR refuses a cache rule
// for it without a credential set: 400 EnforceDockerAuthentication "Cannot create
// cache rule pointing to Docker Hub without credentials" (seen in an acceptance run
// of hashicorp/terraform-provider-azurerm PR #27983).
const dockerHub = "docker.io"

// checkPinnedImage returns the rule ref breaks, or "" if it is a valid image
// reference on a registry the stack's registry can cache without credentials,
// pinned by an explicit tag other than latest, or by digest.
func checkPinnedImage(ref string) string {
	m := imageRefRE.FindStringSubmatch(ref)
	if m == nil {
		return "must be an image reference like " + DefaultConfig().RedisImage
	}
	tag, digest := m[imageRefRE.SubexpIndex("tag")], m[imageRefRE.SubexpIndex("digest")]
	u := upstreamOf(ref)
	switch {
	case tag == "" && digest == "":
		return "must name an explicit tag or digest: an untagged image means latest"
	case tag == "latest":
		return "must not use the latest tag: pin a version or a digest"
	case u.registry == dockerHub:
		fix := "mirror the image to one of " + strings.Join(cacheableRegistries, ", ")
		if official, ok := strings.CutPrefix(u.Repository, "library/"); ok {
			fix = "use Docker's official image from AWS ECR Public: public.ecr.aws/docker/library/" + official + u.Ref
		}
		return "must not come from Docker Hub: ACR caches Docker Hub only with a credential set, " +
			"and refuses the stack's cache rule with EnforceDockerAuthentication; " + fix
	case !slices.Contains(cacheableRegistries, u.registry):
		return "must come from a registry the stack's registry caches without credentials (" + strings.Join(cacheableRegistries, ", ") +
			"): pods pull it through the stack's registry"
	}
	return ""
}

type upstream struct {
	infra.UpstreamImage
	registry string
}

// upstreamOf splits a valid image reference the way container runtimes read it:
// no registry host means Docker Hub, and a one-part Docker Hub path is library/.
func upstreamOf(ref string) upstream {
	m := imageRefRE.FindStringSubmatch(ref)
	host, path := m[imageRefRE.SubexpIndex("host")], m[imageRefRE.SubexpIndex("path")]
	// The grammar takes a first component without a dot, colon or "localhost" as
	// a path, which is how runtimes read "redis" in "redis:7".
	if host != "" && !strings.ContainsAny(host, ".:") && host != "localhost" {
		host, path = "", host+"/"+path
	}
	if host == "" || host == "index.docker.io" {
		host = "docker.io"
	}
	if host == "docker.io" && !strings.Contains(path, "/") {
		path = "library/" + path
	}
	var pin string
	if tag := m[imageRefRE.SubexpIndex("tag")]; tag != "" {
		pin = ":" + tag
	}
	if digest := m[imageRefRE.SubexpIndex("digest")]; digest != "" {
		pin += "@" + digest
	}
	return upstream{registry: host, UpstreamImage: infra.UpstreamImage{
		Source: host + "/" + path, Repository: path, Ref: pin,
	}}
}

// RedisUpstream is guestbook:redisImage as the stack's registry caches it.
func (c Config) RedisUpstream() infra.UpstreamImage {
	u := upstreamOf(c.RedisImage).UpstreamImage
	u.Name = "redis"
	return u
}

// MonitoringConfig is guestbook:monitoring and its retention for the Azure
// layer; nil when monitoring is off.
func (c Config) MonitoringConfig() *infra.Monitoring {
	if !c.Monitoring {
		return nil
	}
	return &infra.Monitoring{RetentionDays: c.LogRetentionDays}
}

// MaintenanceConfig is the configured maintenance windows for the Azure layer.
func (c Config) MaintenanceConfig() infra.Maintenance {
	window := func(w *MaintenanceWindow) *infra.Window {
		if w == nil {
			return nil
		}
		return &infra.Window{DayOfWeek: w.DayOfWeek, StartTime: w.StartTime, DurationHours: w.DurationHours, UTCOffset: w.UTCOffset}
	}
	return infra.Maintenance{AutoUpgrade: window(c.AutoUpgradeWindow), NodeOS: window(c.NodeOSUpgradeWindow)}
}
