// pullproof.go: proof that every image the stack pulls from its own registries can be
// pulled when its workload starts: a pull grant for the right identity exists in
// each of the registry's permission modes, and the workload waits for it.

package stacktest

import (
	"fmt"
	"net/url"
	"strings"

	"gopkg.in/yaml.v3"
)

// pullRoles are the built-in roles that let a kubelet pull, one per role
// assignment mode of a registry: a registry honours only its mode's role.
var pullRoles = []struct{ ID, Name, Mode string }{
	{"7f951dda-4ed3-4680-a7ca-43fe172d538d", "AcrPull", "RBAC Registry Permissions (the default)"},
	{"b93aa761-3e63-49ed-ac28-beffa264f7ac", "Container Registry Repository Reader", "RBAC Registry + ABAC Repository Permissions"},
}

// podSpecPaths are where each workload kind keeps its pod spec.
var podSpecPaths = map[string]string{
	"kubernetes:core/v1:Pod":                   "spec",
	"kubernetes:core/v1:ReplicationController": "spec.template.spec",
	"kubernetes:apps/v1:Deployment":            "spec.template.spec",
	"kubernetes:apps/v1:StatefulSet":           "spec.template.spec",
	"kubernetes:apps/v1:DaemonSet":             "spec.template.spec",
	"kubernetes:apps/v1:ReplicaSet":            "spec.template.spec",
	"kubernetes:batch/v1:Job":                  "spec.template.spec",
	"kubernetes:batch/v1:CronJob":              "spec.jobTemplate.spec.template.spec",
}

// PulledImage is one container image a workload runs.
type PulledImage struct {
	Workload  *Resource
	Container string
	Image     string
	// Registry is the image's registry host (docker.io when the reference has none).
	Registry string
	// StackRegistry is the stack's registry serving the image, nil for an outside one.
	StackRegistry *Resource
	// Grants are the pull assignments that let the workload's nodes pull the
	// image, one per registry permission mode, when the proof found them.
	Grants []*Resource
	// Source is what puts the image's repository in the registry before the
	// workload starts: the pushed image or the cache rule, when the proof found one.
	Source *Resource
}

// PullProof is the outcome of ProvePullPermissions.
type PullProof struct {
	// Proven are the images from the stack's registries whose pull is granted and waited for.
	Proven []PulledImage
	// External are the images from registries outside the stack, by name: the proof
	// cannot speak for them.
	External []PulledImage
	// Problems say, per image, which workload, which registry and what is missing.
	Problems []string
}

// ProvePullPermissions checks, for every container image of every workload in g whose
// registry is one of g's registries: for each of the registry's role assignment
// modes, there is a role assignment of that mode's pull role (pullRoles) scoped to
// that registry whose principal is the object id of the kubelet identity of the
// cluster the workload's Kubernetes provider targets, with principalType
// ServicePrincipal, and the workload waits for it, directly or through others.
// Run it on an update's graph, where ids and login servers are known.
func ProvePullPermissions(g *Graph) PullProof {
	var proof PullProof
	registries := map[string]*Resource{} // login server -> registry
	for _, r := range g.Resources {
		if strings.HasPrefix(r.Type, "azure-native:containerregistry") && strings.HasSuffix(r.Type, ":Registry") {
			if server, ok := String(r.Outputs, "loginServer"); ok {
				registries[strings.ToLower(server)] = r
			}
		}
	}

	for _, w := range g.Resources {
		specPath, ok := podSpecPaths[w.Type]
		if !ok {
			continue
		}
		for _, img := range containerImages(w, specPath) {
			img.StackRegistry = registries[strings.ToLower(img.Registry)]
			if img.StackRegistry == nil {
				proof.External = append(proof.External, img)
				continue
			}
			problem := provePull(g, &img)
			if problem == "" {
				problem = proveSource(g, &img)
			}
			if problem != "" {
				proof.Problems = append(proof.Problems, fmt.Sprintf("%s (container %s, image %s) pulls from the stack's registry %s (%s): %s",
					w, img.Container, img.Image, img.StackRegistry.Name, img.Registry, problem))
				continue
			}
			proof.Proven = append(proof.Proven, img)
		}
	}
	return proof
}

// provePull finds the grant for img, or says what is missing.
func provePull(g *Graph, img *PulledImage) string {
	if img.Workload.Provider == "" {
		return "it uses the default Kubernetes provider, so no cluster of the stack can be named as the one pulling"
	}
	cluster := targetCluster(g, g.ByURN(img.Workload.Provider))
	if cluster == nil {
		return fmt.Sprintf("its provider %s targets no AKS cluster of the stack", img.Workload.Provider)
	}
	kubelet, ok := String(cluster.Inputs, "identityProfile.kubeletidentity.objectId")
	if !ok {
		return fmt.Sprintf("cluster %s has no kubelet identity object id (identityProfile.kubeletidentity.objectId), so no assignment can be checked against it", cluster.Name)
	}

	var problems []string
	for _, role := range pullRoles {
		grant, problem := provePullRole(g, img, cluster, kubelet, role.ID, role.Name)
		if problem != "" {
			problems = append(problems, problem+" (a registry in "+role.Mode+" mode honours only "+role.Name+")")
			continue
		}
		img.Grants = append(img.Grants, grant)
	}
	return strings.Join(problems, "; and ")
}

// provePullRole finds the assignment of role roleID (named roleName) that lets
// cluster's kubelet identity (object id kubelet) pull img, or says what is missing.
func provePullRole(g *Graph, img *PulledImage, cluster *Resource, kubelet, roleID, roleName string) (*Resource, string) {
	registryID := img.StackRegistry.ID
	// Every such assignment on the registry, and why each one does not serve.
	var rejected []string
	for _, ra := range g.Resources {
		if !strings.HasPrefix(ra.Type, "azure-native:authorization") || !strings.HasSuffix(ra.Type, ":RoleAssignment") {
			continue
		}
		role, _ := String(ra.Inputs, "roleDefinitionId")
		if !strings.HasSuffix(strings.ToLower(role), "/"+roleID) {
			continue
		}
		scope, _ := String(ra.Inputs, "scope")
		principal, _ := String(ra.Inputs, "principalId")
		principalType, _ := String(ra.Inputs, "principalType")
		switch {
		case !strings.EqualFold(strings.TrimSuffix(scope, "/"), registryID):
			rejected = append(rejected, fmt.Sprintf("%s is scoped to %q, not the registry %q", ra.Name, scope, registryID))
		case principal != kubelet:
			rejected = append(rejected, fmt.Sprintf("%s grants principal %s, not the kubelet identity's object id %s%s",
				ra.Name, principal, kubelet, clientIDHint(g, cluster, principal)))
		case principalType != "ServicePrincipal":
			rejected = append(rejected, fmt.Sprintf("%s has principalType %q, want ServicePrincipal", ra.Name, principalType))
		default:
			if _, waits := g.WaitsTransitively(img.Workload, ra); !waits {
				return nil, fmt.Sprintf("%s assignment %s exists but the workload does not depend on it, so pods may start before it does and fail with 401 Unauthorized", roleName, ra.Name)
			}
			return ra, ""
		}
	}
	missing := fmt.Sprintf("no %s role assignment on the registry for the kubelet identity (object id %s) of cluster %s", roleName, kubelet, cluster.Name)
	if len(rejected) > 0 {
		missing += "; " + roleName + " assignments that do not serve: " + strings.Join(rejected, "; ")
	}
	return nil, missing
}

// proveSource finds what puts img's repository in its registry before the
// workload starts: a pushed image, or an artifact cache rule mapping the
// repository to an upstream one, that the workload waits for. Without one the
// pull fails with 404 manifest unknown, whatever the grant.
func proveSource(g *Graph, img *PulledImage) string {
	repo := repository(img.Image)
	registryName, _ := String(img.StackRegistry.Outputs, "name")
	var unwaited []string
	for _, r := range g.Resources {
		var match bool
		switch {
		case r.Type == TypeImage:
			name, _ := String(r.Inputs, "imageName")
			match = strings.EqualFold(registryHost(name), img.Registry) && repository(name) == repo
		case strings.HasPrefix(r.Type, "azure-native:containerregistry") && strings.HasSuffix(r.Type, ":CacheRule"):
			reg, _ := String(r.Inputs, "registryName")
			target, _ := String(r.Inputs, "targetRepository")
			match = strings.EqualFold(reg, registryName) && target == repo
		}
		if !match {
			continue
		}
		if _, waits := g.WaitsTransitively(img.Workload, r); waits {
			img.Source = r
			return ""
		}
		unwaited = append(unwaited, r.String())
	}
	if len(unwaited) > 0 {
		return fmt.Sprintf("repository %s comes from %s, but the workload does not wait for it, so a pod may pull before it exists (404 manifest unknown)",
			repo, strings.Join(unwaited, ", "))
	}
	return fmt.Sprintf("nothing puts repository %s in the registry: no pushed image and no cache rule for it, so the pull fails with 404 manifest unknown", repo)
}

// repository returns an image reference's repository path: after the registry
// host, before the tag or digest.
func repository(image string) string {
	rest := image
	if host := registryHost(image); strings.HasPrefix(image, host+"/") {
		rest = strings.TrimPrefix(image, host+"/")
	}
	rest, _, _ = strings.Cut(rest, "@")
	if i := strings.LastIndex(rest, ":"); i > strings.LastIndex(rest, "/") {
		rest = rest[:i]
	}
	return rest
}

// clientIDHint names the usual mistake: the identity's client id given as principal.
func clientIDHint(g *Graph, cluster *Resource, principal string) string {
	if clientID, _ := String(cluster.Inputs, "identityProfile.kubeletidentity.clientId"); clientID != "" && clientID == principal {
		return " (that is the kubelet identity's client id; role assignments need its object id)"
	}
	return ""
}

// targetCluster returns the AKS cluster a Kubernetes provider's kubeconfig points at,
// matched by API server host, or, where the kubeconfig is unknown, the one cluster
// the provider depends on.
func targetCluster(g *Graph, provider *Resource) *Resource {
	if provider == nil {
		return nil
	}
	clusters := g.OfType(TypeCluster)
	if kubeconfig, ok := String(provider.Inputs, "kubeconfig"); ok {
		if host := kubeconfigServerHost(kubeconfig); host != "" {
			for _, c := range clusters {
				if fqdn, _ := String(c.Outputs, "fqdn"); strings.EqualFold(fqdn, host) {
					return c
				}
			}
		}
		return nil
	}
	var found *Resource
	for _, c := range clusters {
		if _, ok := g.WaitsTransitively(provider, c); ok {
			if found != nil {
				return nil // ambiguous
			}
			found = c
		}
	}
	return found
}

// kubeconfigServerHost returns the API server host of a kubeconfig's current context.
func kubeconfigServerHost(kubeconfig string) string {
	var kc struct {
		CurrentContext string `yaml:"current-context"`
		Contexts       []struct {
			Name    string
			Context struct{ Cluster string }
		}
		Clusters []struct {
			Name    string
			Cluster struct{ Server string }
		}
	}
	if yaml.Unmarshal([]byte(kubeconfig), &kc) != nil {
		return ""
	}
	clusterName := ""
	for _, c := range kc.Contexts {
		if c.Name == kc.CurrentContext {
			clusterName = c.Context.Cluster
		}
	}
	for _, c := range kc.Clusters {
		if c.Name == clusterName {
			if u, err := url.Parse(c.Cluster.Server); err == nil {
				return u.Hostname()
			}
		}
	}
	return ""
}

// containerImages lists the images of a workload's containers, init and ephemeral
// containers included.
func containerImages(w *Resource, specPath string) []PulledImage {
	var out []PulledImage
	for _, list := range []string{"containers", "initContainers", "ephemeralContainers"} {
		v, ok := Lookup(w.Inputs, specPath+"."+list)
		if !ok || !v.IsArray() {
			continue
		}
		for _, c := range v.ArrayValue() {
			c = Unsecret(c)
			if !c.IsObject() {
				continue
			}
			name, _ := String(c.ObjectValue(), "name")
			image, _ := String(c.ObjectValue(), "image")
			out = append(out, PulledImage{Workload: w, Container: name, Image: image, Registry: registryHost(image)})
		}
	}
	return out
}

// registryHost returns the registry part of an image reference, as container
// runtimes read it: the first path component if it looks like a host, else docker.io.
func registryHost(image string) string {
	first, _, found := strings.Cut(image, "/")
	if found && (strings.ContainsAny(first, ".:") || first == "localhost") {
		return first
	}
	return "docker.io"
}
