// registry.go: the data plane of the simulated container registries: who may push
// and pull, by the registry's role assignment mode, and what a repository holds.

package sim

import (
	"fmt"
	"strings"
	"time"
)

// registryByServer returns the registry with login server server, if any.
func (s *cloudState) registryByServer(server string) *Resource {
	for _, r := range s.Resources {
		if r.Kind == KindRegistry && r.ProvisioningState != StateDeleting && strings.EqualFold(str(r.Outputs, "loginServer"), server) {
			return r
		}
	}
	return nil
}

// modeOf is a registry's role assignment mode.
func modeOf(registry *Resource) string {
	if m := str(registry.Outputs, "roleAssignmentMode"); m != "" {
		return m
	}
	return RegistryModeRBAC
}

// pushRefusal returns why the registry at server refuses a push by the deploying
// identity at now, or "".
func (s *cloudState) pushRefusal(server string, now time.Time, lat Latency) string {
	reg := s.registryByServer(server)
	if reg == nil {
		return fmt.Sprintf("Get \"https://%s/v2/\": dial tcp: lookup %s: no such host", server, server)
	}
	mode := modeOf(reg)
	if ok, why := s.holds(deployer, mayPush[mode], reg.ID, now, lat); !ok {
		return fmt.Sprintf("unauthorized: authentication required, visit https://aka.ms/acr/authorization for more information "+
			"(the registry is in %s mode; simulator: %s)", mode, why)
	}
	return ""
}

// PullRefusal returns why a node of the cluster with id clusterID cannot pull
// image at now, as the registry answers the kubelet, or "" if it can. The puller
// is the cluster's kubelet identity: the identity at
// identityProfile.kubeletidentity.resourceId, whatever ids the cluster was
// given for it. Images from outside the simulated registries are pulled at once.
func (c *Cloud) PullRefusal(clusterID, image string, now time.Time) (string, error) {
	host, rest, _ := strings.Cut(image, "/")
	if !strings.HasSuffix(host, ".azurecr.io") {
		return "", nil
	}
	lat, err := c.Latency()
	if err != nil {
		return "", err
	}
	s, err := c.snapshot()
	if err != nil {
		return "", err
	}
	reg := s.registryByServer(host)
	if reg == nil {
		return fmt.Sprintf("dial tcp: lookup %s: no such host", host), nil
	}
	cluster := s.find(clusterID)
	if cluster == nil {
		return fmt.Sprintf("the pulling cluster %s does not exist", clusterID), nil
	}
	kubeletID := str(obj(obj(cluster.Outputs, "identityProfile"), "kubeletidentity"), "resourceId")
	kubelet := s.find(kubeletID)
	if kubelet == nil {
		return fmt.Sprintf("401 Unauthorized from https://%s/oauth2/token: the cluster's kubelet identity %q does not exist", host, kubeletID), nil
	}
	principal := str(kubelet.Outputs, "principalId")
	mode := modeOf(reg)
	if ok, why := s.holds(principal, mayPull[mode], reg.ID, now, lat); !ok {
		return fmt.Sprintf("401 Unauthorized from https://%s/oauth2/token: the kubelet identity %s may not pull "+
			"(the registry is in %s mode, which honours %s; %s)", host, principal, mode, roleNames(mayPull[mode]), why), nil
	}
	repo, _, _ := strings.Cut(rest, "@")
	if i := strings.LastIndex(repo, ":"); i > strings.LastIndex(repo, "/") {
		repo = repo[:i]
	}
	for _, r := range s.Resources {
		if r.Kind == KindCacheRule && r.ProvisioningState == StateSucceeded &&
			strings.HasPrefix(strings.ToLower(r.ID), strings.ToLower(reg.ID)+"/") && str(r.Inputs, "targetRepository") == repo {
			return "", nil
		}
	}
	for _, img := range s.Images {
		if strings.EqualFold(img.Registry, host) && img.Repository == repo {
			return "", nil
		}
	}
	return fmt.Sprintf("404 manifest unknown from https://%s/v2/%s: no image pushed there and no cache rule maps it", host, repo), nil
}

// roleNames names the built-in roles of ids, for messages.
func roleNames(ids []string) string {
	names := map[string]string{
		RoleOwner: "Owner", RoleContributor: "Contributor", RoleReader: "Reader", RoleAcrPull: "AcrPull", RoleAcrPush: "AcrPush",
		RoleRepositoryReader: "Container Registry Repository Reader", RoleRepositoryWriter: "Container Registry Repository Writer",
		RoleRepositoryContributor: "Container Registry Repository Contributor",
	}
	var out []string
	for _, id := range ids {
		out = append(out, names[id])
	}
	return strings.Join(out, ", ")
}
