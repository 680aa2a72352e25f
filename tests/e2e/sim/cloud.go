// Package sim is the simulated cloud of the offline end-to-end rehearsal (make e2e):
// the state "Azure" and the container registry hold, kept in a directory shared by the
// simulated azure-native and docker provider plugins (one process per provider
// version the program uses, so several at once) and by the test harness.
//
// The directory named by GUESTBOOK_SIM_DIR holds:
//
//	lock              flock(2) target: every read-modify-write holds it exclusively
//	cloud.json        the resources Azure holds and the images the registries hold
//	operations.jsonl  append-only log, one Operation per line
//	latency.json      the Latency the plugins apply (read at each operation)
//	settings.json     the Settings of this Azure (registry mode, the CLI's sign-in)
//	kubeconfig.yaml   the kubeconfig listManagedClusterUserCredentials returns
//
// Time is part of the simulation: a create or update is accepted at once (the
// resource is in cloud.json, "Creating" or "Updating") and completes at its ReadyAt;
// a delete is accepted at once ("Deleting") and the resource is gone at its ReadyAt.
// Every read settles what is due, so a plugin killed mid-operation leaves the cloud
// exactly as Azure would: the operation still completes.
package sim

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// EnvDir names the environment variable holding the simulated cloud's directory
// (an absolute path). The plugins read it; the harness sets it for the pulumi CLI.
const EnvDir = "GUESTBOOK_SIM_DIR"

// The subscription, tenant and deploying identity the simulated Azure answers
// for are package tenant's, as are the tokens its Entra ID hands out.

// Kinds of simulated things, the keys of Latency.Create and Resource.Kind.
const (
	KindResourceGroup  = "ResourceGroup"
	KindRegistry       = "Registry"
	KindIdentity       = "UserAssignedIdentity"
	KindRoleAssignment = "RoleAssignment"
	KindCluster        = "ManagedCluster"
	KindCacheRule      = "CacheRule"
	KindAgentPool      = "AgentPool"
	KindMaintenance    = "MaintenanceConfiguration"
	KindWorkspace      = "Workspace"
	KindDCR            = "DataCollectionRule"
	KindDCRA           = "DataCollectionRuleAssociation"
	KindDiagnostics    = "DiagnosticSetting"
	KindImage          = "Image"
)

// Provisioning states of a Resource, as ARM reports them.
const (
	StateCreating  = "Creating"
	StateUpdating  = "Updating"
	StateDeleting  = "Deleting"
	StateSucceeded = "Succeeded"
)

// Operation kinds in the log.
const (
	OpCreate          = "Create"
	OpUpdate          = "Update"
	OpDelete          = "Delete"
	OpRead            = "Read"
	OpInvoke          = "Invoke"
	OpBuild           = "Build"
	OpPush            = "Push"
	OpDeleteOutOfBand = "DeleteOutOfBand"
)

// Providers, as Operation.Provider names them.
const (
	ProviderAzure  = "azure-native"
	ProviderDocker = "docker"
)

const (
	lockFile       = "lock"
	stateFile      = "cloud.json"
	operationsFile = "operations.jsonl"
	latencyFile    = "latency.json"
	kubeconfigFile = "kubeconfig.yaml"
)

// Resource is one thing Azure holds.
type Resource struct {
	// ID is the ARM id, as created (ARM compares ids case-insensitively).
	ID string `json:"id"`
	// Type is the ARM type, e.g. Microsoft.ContainerService/managedClusters.
	Type string `json:"type"`
	// Kind is the simulator's kind (KindRegistry…), the key of its latency.
	Kind string `json:"kind"`
	Name string `json:"name"`
	// ResourceGroup is the name of the resource group holding it ("" for a group).
	ResourceGroup string `json:"resourceGroup,omitempty"`
	// Token is the Pulumi type token of the request that created it.
	Token string `json:"token"`
	// URN is the Pulumi URN of the resource that created it, if known.
	URN string `json:"urn,omitempty"`
	// Inputs and Outputs are plain JSON values, secrets as plain values: this is
	// the cloud, not Pulumi's state.
	Inputs  map[string]any `json:"inputs"`
	Outputs map[string]any `json:"outputs"`
	// CreatedAt is when ARM accepted the create; ReadyAt when the current
	// operation (create, update or delete) completes.
	CreatedAt         time.Time `json:"createdAt"`
	ReadyAt           time.Time `json:"readyAt"`
	ProvisioningState string    `json:"provisioningState"`
	// Note records what ARM accepted but a reader should know, e.g. a role
	// assignment made for a client id, which grants nothing.
	Note string `json:"note,omitempty"`
}

// Image is one image a registry holds, pushed by the docker plugin.
type Image struct {
	// Registry is the registry's login server, e.g. guestbookacr1a2b3c4d.azurecr.io.
	Registry   string `json:"registry"`
	Repository string `json:"repository"`
	Tag        string `json:"tag,omitempty"`
	// Digest is "sha256:<hex>".
	Digest   string    `json:"digest"`
	PushedAt time.Time `json:"pushedAt"`
}

// Operation is one line of the operation log: something a plugin (or the harness)
// did to the cloud.
type Operation struct {
	Provider string `json:"provider"`
	Kind     string `json:"kind"`
	Token    string `json:"token,omitempty"`
	URN      string `json:"urn,omitempty"`
	ID       string `json:"id,omitempty"`
	Name     string `json:"name,omitempty"`
	// Start and End bound the operation, latency included.
	Start   time.Time `json:"start"`
	End     time.Time `json:"end"`
	Preview bool      `json:"preview,omitempty"`
	Err     string    `json:"err,omitempty"`
	Note    string    `json:"note,omitempty"`
	// PID is the plugin process that did it.
	PID int `json:"pid"`

	// Registry, Username and PasswordSHA256 (hex sha256 of the password, never the
	// password) describe a push's credentials.
	Registry       string `json:"registry,omitempty"`
	Username       string `json:"username,omitempty"`
	PasswordSHA256 string `json:"passwordSha256,omitempty"`
	// Image and Digest name what a build made or a push pushed.
	Image  string `json:"image,omitempty"`
	Digest string `json:"digest,omitempty"`
}

// Latency is how long things take. Create holds simulated seconds per kind
// (KindResourceGroup…, KindImage); Scale is the wall time of one simulated second.
// A zero Scale or a missing kind means no delay.
//
// An Azure update or delete takes UpdateFraction or DeleteFraction of the kind's
// create time. An image update is a full build and push, so it takes the create
// time; of that, BuildFraction is the build and the rest the push. Deleting an
// image does nothing and takes no time.
//
// Propagation is how long, in simulated seconds, a role assignment takes to take
// effect after its create returns: for AKS's own checks, the registry's pulls
// and pushes and the cluster's Azure RBAC alike (Azure documents up to 10
// minutes). Replication is how long the directory takes to know a new managed
// identity's principal: until then an assignment to it that does not give
// principalType fails with PrincipalNotFound.
type Latency struct {
	Scale       time.Duration      `json:"scale"`
	Create      map[string]float64 `json:"create"`
	Propagation float64            `json:"propagation"`
	Replication float64            `json:"replication"`
}

// Wall is the wall time of simulated seconds.
func (l Latency) Wall(seconds float64) time.Duration {
	return time.Duration(seconds * float64(l.Scale))
}

// PropagationTime is the wall time a role assignment takes to take effect.
func (l Latency) PropagationTime() time.Duration { return l.Wall(l.Propagation) }

// ReplicationTime is the wall time the directory takes to know a new principal.
func (l Latency) ReplicationTime() time.Duration { return l.Wall(l.Replication) }

// Fractions of the create time other operations take (see Latency).
const (
	UpdateFraction = 0.25
	DeleteFraction = 0.25
	BuildFraction  = 0.75
)

// CreateTime is the wall time a create of kind takes.
func (l Latency) CreateTime(kind string) time.Duration {
	return l.Wall(l.Create[kind])
}

// UpdateTime is the wall time an update of an Azure resource of kind takes.
func (l Latency) UpdateTime(kind string) time.Duration {
	return time.Duration(UpdateFraction * float64(l.CreateTime(kind)))
}

// DeleteTime is the wall time a delete of an Azure resource of kind takes.
func (l Latency) DeleteTime(kind string) time.Duration {
	return time.Duration(DeleteFraction * float64(l.CreateTime(kind)))
}

// Cloud is a handle on the simulated cloud in one directory. Handles in several
// processes (or several in one) on the same directory see each other's writes.
type Cloud struct {
	dir string
	// mu serialises this handle's goroutines; the flock serialises processes (and
	// handles, as each operation opens the lock file anew).
	mu sync.Mutex
}

// Open returns a handle on the simulated cloud in dir (an absolute path), creating
// the directory if needed.
func Open(dir string) (*Cloud, error) {
	if !filepath.IsAbs(dir) {
		return nil, fmt.Errorf("simulated cloud directory %q is not an absolute path", dir)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("creating simulated cloud directory: %w", err)
	}
	return &Cloud{dir: dir}, nil
}

// OpenEnv opens the simulated cloud in the directory named by $GUESTBOOK_SIM_DIR.
func OpenEnv() (*Cloud, error) {
	dir := os.Getenv(EnvDir)
	if dir == "" {
		return nil, fmt.Errorf("%s is not set: the simulator needs the directory of its cloud state", EnvDir)
	}
	return Open(dir)
}

// Dir returns the cloud's directory.
func (c *Cloud) Dir() string { return c.dir }

// SetLatency sets the latencies every plugin applies from its next operation on.
func (c *Cloud) SetLatency(l Latency) error {
	b, err := json.MarshalIndent(l, "", "  ")
	if err != nil {
		return err
	}
	return c.locked(func() error { return writeAtomic(filepath.Join(c.dir, latencyFile), b) })
}

// Latency returns the latencies in force (zero if never set).
func (c *Cloud) Latency() (Latency, error) {
	var l Latency
	err := c.locked(func() error {
		b, err := os.ReadFile(filepath.Join(c.dir, latencyFile))
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		return json.Unmarshal(b, &l)
	})
	return l, err
}

// SetKubeconfig sets the kubeconfig listManagedClusterUserCredentials returns for
// any existing cluster.
func (c *Cloud) SetKubeconfig(yaml []byte) error {
	return c.locked(func() error { return writeAtomic(filepath.Join(c.dir, kubeconfigFile), yaml) })
}

// kubeconfig returns what SetKubeconfig set.
func (c *Cloud) kubeconfig() ([]byte, error) {
	var b []byte
	err := c.locked(func() error {
		var err error
		b, err = os.ReadFile(filepath.Join(c.dir, kubeconfigFile))
		if errors.Is(err, fs.ErrNotExist) {
			return errors.New("the simulated cloud has no kubeconfig for its clusters: the harness must call SetKubeconfig")
		}
		return err
	})
	return b, err
}

// Resources returns what Azure holds now, in creation order.
func (c *Cloud) Resources() ([]Resource, error) {
	s, err := c.snapshot()
	if err != nil {
		return nil, err
	}
	out := make([]Resource, len(s.Resources))
	for i, r := range s.Resources {
		out[i] = *r
	}
	return out, nil
}

// Images returns the images the registries hold now, in push order.
func (c *Cloud) Images() ([]Image, error) {
	s, err := c.snapshot()
	if err != nil {
		return nil, err
	}
	return s.Images, nil
}

// DeleteOutOfBand deletes the resource with the given id (and, as ARM does,
// everything under it) at once, behind Pulumi's back. It fails if there is none.
func (c *Cloud) DeleteOutOfBand(id string) error {
	start := time.Now()
	err := c.mutate(func(s *cloudState) error {
		if s.find(id) == nil {
			return fmt.Errorf("no resource with id %q in the simulated cloud", id)
		}
		s.remove(id)
		return nil
	})
	op := Operation{Kind: OpDeleteOutOfBand, ID: id, Start: start, End: time.Now()}
	if err != nil {
		op.Err = err.Error()
	}
	if lerr := c.logOp(op); lerr != nil && err == nil {
		err = lerr
	}
	return err
}

// Operations returns the operation log, oldest first.
func (c *Cloud) Operations() ([]Operation, error) {
	var ops []Operation
	err := c.locked(func() error {
		f, err := os.Open(filepath.Join(c.dir, operationsFile))
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 0, 64*1024), 16*1024*1024)
		for sc.Scan() {
			if len(bytes.TrimSpace(sc.Bytes())) == 0 {
				continue
			}
			var op Operation
			if err := json.Unmarshal(sc.Bytes(), &op); err != nil {
				return fmt.Errorf("reading %s: %w", operationsFile, err)
			}
			ops = append(ops, op)
		}
		return sc.Err()
	})
	return ops, err
}

// logOp appends op to the operation log.
func (c *Cloud) logOp(op Operation) error {
	op.PID = os.Getpid()
	b, err := json.Marshal(op)
	if err != nil {
		return err
	}
	return c.locked(func() error {
		f, err := os.OpenFile(filepath.Join(c.dir, operationsFile), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err != nil {
			return err
		}
		if _, err := f.Write(append(b, '\n')); err != nil {
			f.Close()
			return err
		}
		return f.Close()
	})
}

// cloudState is the content of cloud.json, and the settings in force when it
// was read.
type cloudState struct {
	Resources []*Resource `json:"resources"`
	Images    []Image     `json:"images"`

	settings     Settings
	registryMode string
}

// find returns the resource whose id equals id, ignoring case as ARM does.
func (s *cloudState) find(id string) *Resource {
	for _, r := range s.Resources {
		if strings.EqualFold(r.ID, id) {
			return r
		}
	}
	return nil
}

// under reports whether id is parent or lies under it (ARM's containment:
// resources in a group, role assignments on a resource).
func under(id, parent string) bool {
	id, parent = strings.ToLower(id), strings.ToLower(parent)
	return id == parent || strings.HasPrefix(id, parent+"/")
}

// remove deletes the resource id and everything under it, and the images of any
// registry that goes with them.
func (s *cloudState) remove(id string) {
	kept := s.Resources[:0]
	for _, r := range s.Resources {
		if !under(r.ID, id) {
			kept = append(kept, r)
		}
	}
	s.Resources = kept
	s.dropOrphanImages()
}

func (s *cloudState) dropOrphanImages() {
	servers := map[string]bool{}
	for _, r := range s.Resources {
		if r.Kind == KindRegistry {
			servers[strings.ToLower(str(r.Outputs, "loginServer"))] = true
		}
	}
	kept := s.Images[:0]
	for _, im := range s.Images {
		if servers[strings.ToLower(im.Registry)] {
			kept = append(kept, im)
		}
	}
	s.Images = kept
}

// settle completes every operation due by now: creates and updates succeed,
// deletes remove.
func (s *cloudState) settle(now time.Time) {
	var gone []string
	for _, r := range s.Resources {
		if now.Before(r.ReadyAt) {
			continue
		}
		switch r.ProvisioningState {
		case StateCreating, StateUpdating:
			setProvisioningState(r, StateSucceeded)
		case StateDeleting:
			gone = append(gone, r.ID)
		}
	}
	for _, id := range gone {
		s.remove(id)
	}
}

// locked runs fn holding the in-process mutex and the directory's flock.
func (c *Cloud) locked(fn func() error) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	f, err := os.OpenFile(filepath.Join(c.dir, lockFile), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("opening simulated cloud lock: %w", err)
	}
	defer f.Close() // closing the descriptor releases the lock too
	for {
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX)
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("locking simulated cloud: %w", err)
	}
	defer unix.Flock(int(f.Fd()), unix.LOCK_UN) //nolint:errcheck // Close releases it anyway
	return fn()
}

// load reads cloud.json and settles what is due; the caller holds the lock.
func (c *Cloud) load() (*cloudState, error) {
	s := &cloudState{}
	b, err := os.ReadFile(filepath.Join(c.dir, stateFile))
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, err
	default:
		if err := json.Unmarshal(b, s); err != nil {
			return nil, fmt.Errorf("reading %s: %w", stateFile, err)
		}
	}
	settings, err := c.readSettings()
	if err != nil {
		return nil, err
	}
	s.settings, s.registryMode = settings, settings.RegistryMode
	s.settle(time.Now())
	return s, nil
}

// snapshot returns the cloud's state now.
func (c *Cloud) snapshot() (*cloudState, error) {
	var s *cloudState
	err := c.locked(func() error {
		var err error
		s, err = c.load()
		return err
	})
	return s, err
}

// mutate runs fn on the cloud's state and saves it if fn succeeds, all under the
// lock. fn must not sleep.
func (c *Cloud) mutate(fn func(*cloudState) error) error {
	return c.locked(func() error {
		s, err := c.load()
		if err != nil {
			return err
		}
		if err := fn(s); err != nil {
			return err
		}
		b, err := json.MarshalIndent(s, "", "  ")
		if err != nil {
			return err
		}
		return writeAtomic(filepath.Join(c.dir, stateFile), b)
	})
}

// writeAtomic replaces path with b, so that a reader never sees half a file even
// if the writer is killed.
func writeAtomic(path string, b []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// str returns the string at key k of a plain map, else "".
func str(m map[string]any, k string) string {
	s, _ := m[k].(string)
	return s
}
