// settings.go: what a rehearsal chooses about its Azure besides latencies: the
// mode new registries get, how the Azure CLI is signed in, and the address the
// deploying machine reaches Azure from.

package sim

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// Role assignment modes of a registry (its roleAssignmentMode, API 2025-11-01).
const (
	// RegistryModeRBAC is "RBAC Registry Permissions", today's default: AcrPull
	// and AcrPush are honoured.
	RegistryModeRBAC = "LegacyRegistryPermissions"
	// RegistryModeABAC is "RBAC Registry + ABAC Repository Permissions", which
	// Microsoft says will become the default: only the repository roles are.
	RegistryModeABAC = "AbacRepositoryPermissions"
)

// Settings are a simulated Azure's choices, read by every plugin at each operation.
type Settings struct {
	// RegistryMode is the role assignment mode a new registry gets (the
	// program's API version cannot choose it); "" means RegistryModeRBAC.
	RegistryMode string `json:"registryMode,omitempty"`
	// SignIn is the Azure CLI's sign-in, which `kubelogin --login azurecli` uses.
	SignIn SignIn `json:"signIn"`
	// ClientIP is the address the deploying machine reaches Azure from: the
	// source AKS's authorized IP ranges are checked against. "" means
	// DefaultClientIP.
	ClientIP string `json:"clientIP,omitempty"`
}

// DefaultClientIP is where the rehearsal's deploys come from: inside the prod
// stack's authorized range (TEST-NET-3, 203.0.113.0/24), as a CI runner's egress is.
const DefaultClientIP = "203.0.113.10"

// SignIn is how `az login` signed in.
type SignIn struct {
	// Principal is the signed-in principal's object id; "" means nobody.
	Principal string `json:"principal,omitempty"`
	// Federated is a sign-in with a federated token (azure/login with GitHub
	// OIDC): the CLI keeps that token as the client assertion for every later
	// token it asks for, and it expires AssertionLifetime after At. A person's
	// `az login` keeps a refresh token instead and stays signed in.
	Federated         bool          `json:"federated,omitempty"`
	At                time.Time     `json:"at"`
	AssertionLifetime time.Duration `json:"assertionLifetime,omitempty"`
}

const settingsFile = "settings.json"

// SetSettings replaces the cloud's settings.
func (c *Cloud) SetSettings(s Settings) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	return c.locked(func() error { return writeAtomic(filepath.Join(c.dir, settingsFile), b) })
}

// Settings returns the cloud's settings, defaults filled in.
func (c *Cloud) Settings() (Settings, error) {
	var s Settings
	err := c.locked(func() error {
		var err error
		s, err = c.readSettings()
		return err
	})
	return s, err
}

// readSettings reads the settings; the caller holds the lock.
func (c *Cloud) readSettings() (Settings, error) {
	var s Settings
	b, err := os.ReadFile(filepath.Join(c.dir, settingsFile))
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return s, err
	default:
		if err := json.Unmarshal(b, &s); err != nil {
			return s, fmt.Errorf("reading %s: %w", settingsFile, err)
		}
	}
	if s.RegistryMode == "" {
		s.RegistryMode = RegistryModeRBAC
	}
	if s.ClientIP == "" {
		s.ClientIP = DefaultClientIP
	}
	return s, nil
}

// UpdateSettings changes the cloud's settings with fn.
func (c *Cloud) UpdateSettings(fn func(*Settings)) error {
	s, err := c.Settings()
	if err != nil {
		return err
	}
	fn(&s)
	return c.SetSettings(s)
}
