// mutants.go: the safety-critical lines of the program, and one wrong version of
// each: what a careless edit, or a plausible misreading of Azure, would write.

package main

// mutant is one named change of one line of the repository.
type mutant struct {
	Name string
	// Loses is what a user of the stack would lose if the change landed.
	Loses string
	// File is relative to the repository; Old must occur exactly once in it.
	File, Old, New string
}

var mutants = []mutant{
	// Explicit dependencies.
	{"deployment-ignores-pull-grants", "pods start before their nodes may pull: ImagePullBackOff, 401 Unauthorized",
		"app/workload.go", "\t\tpulumi.DependsOn(args.PullGrants),", "\t\tpulumi.DependsOn(nil),"},
	{"redis-ignores-pull-grants", "Redis starts before its nodes may pull: ImagePullBackOff, 401 Unauthorized",
		"app/redis.go", "\t\tpulumi.DependsOn(args.PullGrants),", "\t\tpulumi.DependsOn(nil),"},
	{"provider-ignores-admin-grants", "the first Kubernetes call may come before the deployer's admin grant has propagated: 403",
		"infra/azure.go", "\t\tkubeconfig = afterPropagation(ctx, a, args.GrantPropagation, kubeconfig, sleep)\n", "\t\t_ = a\n"},
	{"cluster-skips-operator-wait", "AKS refuses the first create: CustomKubeletIdentityMissingPermissionError",
		"infra/cluster.go", "kubeletID := afterPropagation(ctx, args.Identities.Operator, args.GrantPropagation, kubelet.ID().ToStringOutput(), args.sleep)",
		"kubeletID := kubelet.ID().ToStringOutput()"},
	{"redis-image-skips-cache-rule", "Redis may pull before its cache rule maps the repository: 404 manifest unknown",
		"infra/registry.go", "refs[img.Name] = pulumi.All(registry.LoginServer, rule.TargetRepository).ApplyT(",
		"refs[img.Name] = pulumi.All(registry.LoginServer, registry.LoginServer).ApplyT("},

	// The grants: principal, scope, role, type.
	{"acr-pull-to-client-id", "the AcrPull grant names the kubelet's client id and grants nothing",
		"infra/azure.go", "pullGrants, err := newPullGrants(ctx, name, registry.ID().ToStringOutput(), ids.Kubelet.PrincipalId, parent)",
		"pullGrants, err := newPullGrants(ctx, name, registry.ID().ToStringOutput(), ids.Kubelet.ClientId, parent)"},
	{"pull-grants-on-resource-group", "the pull grants are scoped wider than the registry (least privilege lost)",
		"infra/azure.go", "pullGrants, err := newPullGrants(ctx, name, registry.ID().ToStringOutput(), ids.Kubelet.PrincipalId, parent)",
		"pullGrants, err := newPullGrants(ctx, name, rg.ID().ToStringOutput(), ids.Kubelet.PrincipalId, parent)"},
	{"acr-pull-role-reader", "the kubelet gets Reader, not AcrPull: RBAC-mode registries refuse its pulls",
		"infra/access.go", "\t\t{\"-acr-pull\", acrPullRoleID},", "\t\t{\"-acr-pull\", \"acdd72a7-3385-48ef-bd42-f606fba81ae7\"},"},
	{"no-repository-reader", "a registry in ABAC mode (Microsoft's coming default) refuses every pull",
		"infra/access.go", "\t\t{\"-repository-reader\", repositoryReaderRoleID},\n", ""},
	{"pull-grants-untyped", "an untyped grant to a just-made identity can fail with PrincipalNotFound",
		"infra/access.go", "\t\t\tPrincipalType: principalTypeServicePrincipal,\n\t\t\tRoleID:        g.role,",
		"\t\t\tRoleID:        g.role,"},
	{"operator-grant-to-kubelet", "the control plane may not assign the kubelet identity: AKS refuses the create",
		"infra/identity.go", "\t\tPrincipalID:   controlPlane.PrincipalId,", "\t\tPrincipalID:   kubelet.PrincipalId,"},
	{"operator-grant-on-control-plane", "the Managed Identity Operator grant is on the wrong identity: AKS refuses the create",
		"infra/identity.go", "\t\tScope:         kubelet.ID().ToStringOutput(),", "\t\tScope:         controlPlane.ID().ToStringOutput(),"},
	{"operator-grant-role-reader", "the control plane holds Reader, not Managed Identity Operator, on the kubelet identity: AKS refuses the create",
		"infra/identity.go", "\t\tRoleID:        managedIdentityOperatorRoleID,", "\t\tRoleID:        \"acdd72a7-3385-48ef-bd42-f606fba81ae7\","},
	{"operator-grant-untyped", "an untyped grant to the just-made control-plane identity can fail with PrincipalNotFound",
		"infra/identity.go", "\t\tPrincipalID:   controlPlane.PrincipalId,\n\t\tPrincipalType: principalTypeServicePrincipal,", "\t\tPrincipalID:   controlPlane.PrincipalId,"},
	{"admins-wrong-principal", "the admin grant names someone else: the deployer's Kubernetes calls are refused",
		"infra/access.go", "\t\t\tPrincipalID:   pulumi.String(p.ObjectID).ToStringOutput(),", "\t\t\tPrincipalID:   pulumi.String(\"00000000-0000-0000-0000-000000000000\").ToStringOutput(),"},
	{"admins-typed-as-service-principals", "a User or Group admin's grant is refused by ARM: UnmatchedPrincipalType",
		"infra/access.go", "\t\t\tPrincipalType: p.Type,", "\t\t\tPrincipalType: principalTypeServicePrincipal,"},
	{"admins-scoped-to-registry", "the cluster admins hold nothing on the cluster: every Kubernetes call is refused",
		"infra/azure.go", "admins, err := newClusterAdmins(ctx, name, rg.ID().ToStringOutput(), args.ClusterAdmins, parent)",
		"admins, err := newClusterAdmins(ctx, name, registry.ID().ToStringOutput(), args.ClusterAdmins, parent)"},
	{"admins-role-reader", "the cluster admins can only read: the deploy's writes are refused",
		"infra/access.go", "\t\t\tRoleID:        aksRBACClusterAdminRoleID,", "\t\t\tRoleID:        \"7f6c6a51-bcf8-42ba-9220-52d62157d7db\","},

	// The cluster's security.
	{"no-azure-rbac", "Kubernetes RBAC decides, and no binding names the admins: every call is refused",
		"infra/cluster.go", "\t\t\tEnableAzureRBAC: pulumi.Bool(true),", "\t\t\tEnableAzureRBAC: pulumi.Bool(false),"},
	{"local-accounts-on", "a cluster-admin certificate exists that bypasses Entra ID",
		"infra/cluster.go", "\t\tDisableLocalAccounts:   pulumi.Bool(true),", "\t\tDisableLocalAccounts:   pulumi.Bool(false),"},
	{"kubelogin-device-code", "every deploy stops at a device-code prompt nobody answers",
		"infra/kubeconfig.go", "args := []string{\"get-token\", \"--login\", \"azurecli\", \"--server-id\", aksEntraServerAppID}",
		"args := []string{\"get-token\", \"--login\", \"devicecode\", \"--server-id\", aksEntraServerAppID}"},
	{"deploy-workflow-azurecli", "CI deploys fail after the cluster's create with AADSTS700024",
		".github/workflows/deploy.yml", "          AAD_LOGIN_METHOD: workloadidentity\n", ""},

	// Pool isolation: the system pool's taint, the user pool beside it.
	{"system-pool-untainted", "the app's pods share nodes with CoreDNS and the add-ons, and can starve them",
		"infra/cluster.go", "\t\t\t\tNodeTaints:        pulumi.StringArray{pulumi.String(systemPoolTaint)},\n", ""},
	{"deployment-ignores-user-pool", "the guestbook's pods are Pending until the user pool exists, racing the rollout timeout",
		"app/workload.go", "\t\tpulumi.DependsOn(args.Nodes),", "\t\tpulumi.DependsOn(nil),"},
	{"redis-ignores-user-pool", "Redis's pod is Pending until the user pool exists, racing the rollout timeout",
		"app/redis.go", "\t\tpulumi.DependsOn(args.Nodes),", "\t\tpulumi.DependsOn(nil),"},
	{"user-pool-resized-in-place", "a new nodeVmSize is sent as an update AKS refuses (PropertyChangeNotAllowed)",
		"infra/cluster.go", "\t\tpulumi.ReplaceOnChanges(userPoolImmutable),\n", ""},

	// The production baseline's switches.
	{"run-command-on", "az aks command invoke runs kubectl as the cluster around the authorized ranges",
		"infra/cluster.go", "\t\tDisableRunCommand: pulumi.Bool(true),", "\t\tDisableRunCommand: pulumi.Bool(false),"},
	{"audit-log-everything", "kube-audit instead of kube-audit-admin: every get and list billed, Azure.AKS.AuditAdmin fails",
		"infra/monitoring.go", "\t\"kube-audit-admin\", \"guard\",", "\t\"kube-audit\", \"guard\","},
	{"container-insights-key-auth", "Container insights falls back to the workspace key (legacy auth, being retired)",
		"infra/monitoring.go", "\t\t\"useAADAuth\":                      pulumi.String(\"true\"),", "\t\t\"useAADAuth\":                      pulumi.String(\"false\"),"},
	{"ephemeral-any-size", "an ephemeral OS disk on a size without a temp disk stops the deploy at AKS",
		"config.go", "\t\t\tif _, ok := ephemeralOSDiskGB[p.size]; !ok && p.size != \"\" {", "\t\t\tif false {"},
	{"prod-free-tier-accepted", "the prod cluster runs without an uptime SLA",
		"config.go", "\tif c.ClusterTier == \"Free\" {", "\tif false {"},

	// What Azure moves by itself.
	{"pools-not-ignored", "every refresh shows the autoscaler's count and the user pool AKS lists as drift, and up PUTs the cluster",
		"infra/cluster.go", "\tignored := []string{\"agentPoolProfiles\"}", "\tignored := []string{}"},
	{"user-pool-count-not-ignored", "every refresh shows the user pool's autoscaled count as drift, and up scales it back",
		"infra/cluster.go", "\tignored := []string{\"count\"}", "\tignored := []string{}"},
	{"versions-not-ignored", "every patch release shows as drift on the drift check",
		"infra/cluster.go", "\t\tignored = append(ignored, \"kubernetesVersion\")\n\t}\n\treturn ignored", "\t}\n\treturn ignored"},
	{"redis-password-not-ignored", "every run draws a new Redis password and rolls both workloads",
		"app/redisauth.go", "}, append(opts, pulumi.IgnoreChanges([]string{\"stringData\", \"data\"}))...)", "}, opts...)"},

	// The image.
	{"image-by-tag", "pods run whatever the tag points at, and a new push is no rollout",
		"app/component.go", "\t\tImage:           image.RepoDigest,", "\t\tImage:           image.ImageName,"},
	{"token-for-arm", "a registry with ARM-audience tokens turned off refuses the push",
		"app/image.go", "\t\tEndpoint: pulumi.StringPtr(registryAudience),\n", ""},

	// Preview guards.
	{"preview-asks-for-token", "every preview (and PR preview) asks Azure for a token and the registry for an exchange",
		"app/image.go", "\tif ctx.DryRun() {\n\t\tunknown :=", "\tif false {\n\t\tunknown :="},
	{"preview-waits-for-grant", "a preview right after a deploy waits out the grant's propagation",
		"infra/propagation.go", "\t\tif ctx.DryRun() {\n\t\t\treturn val, nil\n\t\t}\n", ""},

	// Config rules that stand between a user and Azure's refusal.
	{"docker-hub-accepted", "a Docker Hub redisImage stops the first deploy at the cache rule (EnforceDockerAuthentication)",
		"config.go", "\tcase u.registry == dockerHub:", "\tcase false:"},
	{"patch-pin-accepted", "a patch-pinned version drifts on every preview and up tries to downgrade it",
		"config.go", "\tcase patchVersionRE.MatchString(v):", "\tcase false:"},
}
