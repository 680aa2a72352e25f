package sim

import (
	"strings"
	"testing"
	"time"
)

// TestPullRefusal: a kubelet pulls only with a grant its registry's mode honours,
// once the grant has taken effect, and only what a push or a cache rule put there;
// the puller is the identity at the cluster's kubeletidentity.resourceId.
func TestPullRefusal(t *testing.T) {
	for _, tt := range []struct {
		name    string
		mode    string
		grants  []string // roles granted to the kubelet identity on the registry
		wait    bool     // for the propagation delay before pulling
		repo    string
		wantErr string // "" means granted
	}{
		{"AcrPull in RBAC mode", RegistryModeRBAC, []string{RoleAcrPull}, true, "guestbook", ""},
		{"no grant", RegistryModeRBAC, nil, true, "guestbook", "401 Unauthorized"},
		{"AcrPull just made", RegistryModeRBAC, []string{RoleAcrPull}, false, "guestbook", "has not taken effect yet"},
		{"Repository Reader in RBAC mode", RegistryModeRBAC, []string{RoleRepositoryReader}, true, "guestbook", "401 Unauthorized"},
		{"AcrPull in ABAC mode", RegistryModeABAC, []string{RoleAcrPull}, true, "guestbook", "which honours Container Registry Repository Reader"},
		{"Repository Reader in ABAC mode", RegistryModeABAC, []string{RoleRepositoryReader}, true, "guestbook", ""},
		{"both in ABAC mode", RegistryModeABAC, []string{RoleAcrPull, RoleRepositoryReader}, true, "guestbook", ""},
		{"a repository nothing put there", RegistryModeRBAC, []string{RoleAcrPull}, true, "other", "404 manifest unknown"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := newCloud(t)
			if err := c.SetSettings(Settings{RegistryMode: tt.mode}); err != nil {
				t.Fatal(err)
			}
			p := NewAzureProvider(c)
			s := deployAzure(t, p, true)
			withLatency(t, c, 100, 0)
			for _, role := range tt.grants {
				create(t, p, tokRA, "grant-"+role[:8], roleAssignment(s.registryID, s.kubeletObject, role))
			}
			if tt.wait {
				time.Sleep(150 * time.Millisecond)
			}
			if err := c.mutate(func(st *cloudState) error {
				st.Images = append(st.Images, Image{Registry: s.loginServer, Repository: "guestbook", Digest: "sha256:0"})
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			got, err := c.PullRefusal(s.clusterID, s.loginServer+"/"+tt.repo+"@sha256:0", time.Now())
			if err != nil {
				t.Fatal(err)
			}
			if (tt.wantErr == "") != (got == "") || !strings.Contains(got, tt.wantErr) {
				t.Errorf("PullRefusal = %q, want %q", got, tt.wantErr)
			}
		})
	}
	t.Run("the puller is the identity at resourceId", func(t *testing.T) {
		c := newCloud(t)
		p := NewAzureProvider(c)
		s := deployAzure(t, p, true)
		// A grant to the control-plane identity lets no node pull, whatever ids
		// the cluster was given.
		create(t, p, tokRA, "wrong", roleAssignment(s.registryID, s.cpObject, RoleAcrPull))
		if got, _ := c.PullRefusal(s.clusterID, s.loginServer+"/guestbook:dev", time.Now()); !strings.Contains(got, "401") {
			t.Errorf("PullRefusal with AcrPull for another identity = %q, want a 401", got)
		}
	})
}

// TestPushNeedsTheModesRole: the deploying identity pushes with Contributor in
// RBAC mode and with Container Registry Repository Writer in ABAC mode (both
// standing grants, docs/security.md, "Azure permissions"); without the latter an ABAC
// registry refuses.
func TestPushNeedsTheModesRole(t *testing.T) {
	saved := standingGrants
	defer func() { standingGrants = saved }()
	for _, tt := range []struct {
		name    string
		mode    string
		without string // a standing grant taken away
		wantErr string
	}{
		{"RBAC mode", RegistryModeRBAC, "", ""},
		{"ABAC mode", RegistryModeABAC, "", ""},
		{"ABAC mode without Repository Writer", RegistryModeABAC, RoleRepositoryWriter, "unauthorized: authentication required"},
		{"RBAC mode without Contributor", RegistryModeRBAC, RoleContributor, "unauthorized: authentication required"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			standingGrants = nil
			for _, g := range saved {
				if g.role != tt.without {
					standingGrants = append(standingGrants, g)
				}
			}
			f := newDockerFixture(t)
			// The registry as Azure made it in this mode.
			if err := f.cloud.mutate(func(st *cloudState) error {
				st.registryByServer(f.loginServer).Outputs["roleAssignmentMode"] = tt.mode
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			_, _, err := tryCreate(t, f.p, ImageToken, "guestbook-image", f.imageInputs(password))
			if (tt.wantErr == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("push: %v, want %q", err, tt.wantErr)
			}
		})
	}
}
