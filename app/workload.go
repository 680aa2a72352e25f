// workload.go: the guestbook Deployment, its disruption budget and its Service.

package app

import (
	"fmt"
	"strconv"

	appsv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/apps/v1"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	policyv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/policy/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

const (
	// deploymentName is fixed by the operators' runbooks (kubectl rollout status deploy/guestbook-app).
	deploymentName = "guestbook-app"
	// serviceName is the guestbook Service's DNS name inside the cluster.
	serviceName = "guestbook"
	appPort     = 8080
	// appUID matches the USER of app/guestbook/Dockerfile.
	appUID = 10001
	// appMemoryMiB is the app container's memory, requested and limited alike.
	appMemoryMiB = 128
	// appGoMemLimitMiB is the app's GOMEMLIMIT: the Go runtime collects more often as
	// its memory nears it, so a heap that grows is collected instead of the container
	// being killed at its limit. The rest is for memory the runtime does not count.
	appGoMemLimitMiB = appMemoryMiB * 4 / 5

	// rolloutTimeout bounds how long `pulumi up` waits for a rollout to become ready
	// before failing with the provider's reason (for example ImagePullBackOff). It
	// covers a node the autoscaler must add for the surge pod (about 5 minutes) plus
	// pulls and probes; beyond that a rollout is stuck, not slow.
	rolloutTimeout = "10m"
	// progressDeadline makes the Deployment itself report ProgressDeadlineExceeded
	// when no new pod becomes ready for this long, which the provider reports as the
	// failure reason before rolloutTimeout runs out.
	progressDeadline = 300
)

// appLabels select the guestbook's pods everywhere: Deployment, PDB, Service and
// NetworkPolicies.
var appLabels = pulumi.StringMap{"app": pulumi.String("guestbook")}

type workloadArgs struct {
	Namespace pulumi.StringOutput
	// Image is the image reference pinned by digest.
	Image       pulumi.StringOutput
	Replicas    int
	ServiceType string
	RedisAddr   string
	// PullGrants are what the nodes need before they can pull Image: the kubelet
	// identity's pull assignments on the registry.
	PullGrants []pulumi.Resource
	// Nodes are the pools the pods may be scheduled on (the user pool).
	Nodes []pulumi.Resource
	// Auth is the Secret with Redis's password; a new one rolls the pods.
	Auth *corev1.Secret
	// The server's abuse limits, passed to it as environment variables.
	WritesPerMinute, WriteBurst, MaxEntries int
}

type workload struct {
	Deployment *appsv1.Deployment
	Budget     *policyv1.PodDisruptionBudget
	Service    *corev1.Service
}

// patchForceAnnotation makes the Kubernetes provider's server-side apply take
// ownership of fields another field manager (kubectl) has changed.
const patchForceAnnotation = "pulumi.com/patchForce"

func newWorkload(ctx *pulumi.Context, name string, args workloadArgs, opts ...pulumi.ResourceOption) (*workload, error) {
	probe := func(path string) *corev1.ProbeArgs {
		return &corev1.ProbeArgs{
			HttpGet:        &corev1.HTTPGetActionArgs{Path: pulumi.String(path), Port: pulumi.String("http")},
			PeriodSeconds:  pulumi.Int(10),
			TimeoutSeconds: pulumi.Int(2),
		}
	}
	deployment, err := appsv1.NewDeployment(ctx, name+"-app", &appsv1.DeploymentArgs{
		Metadata: &metav1.ObjectMetaArgs{
			Name:      pulumi.String(deploymentName),
			Namespace: args.Namespace,
			Labels:    appLabels,
			// The stack owns the replica count. Without forcing, a `kubectl scale`
			// leaves its field manager on spec.replicas and the next `pulumi up`
			// fails with a server-side apply conflict instead of restoring it
			// (found by the rehearsal's drift scenario).
			Annotations: pulumi.StringMap{patchForceAnnotation: pulumi.String("true")},
		},
		Spec: &appsv1.DeploymentSpecArgs{
			Replicas:                pulumi.Int(args.Replicas),
			ProgressDeadlineSeconds: pulumi.Int(progressDeadline),
			Selector:                &metav1.LabelSelectorArgs{MatchLabels: appLabels},
			// Never fewer ready pods than asked for during a rollout; one extra at a time.
			Strategy: &appsv1.DeploymentStrategyArgs{
				Type: pulumi.String("RollingUpdate"),
				RollingUpdate: &appsv1.RollingUpdateDeploymentArgs{
					MaxUnavailable: pulumi.Int(0),
					MaxSurge:       pulumi.Int(1),
				},
			},
			Template: &corev1.PodTemplateSpecArgs{
				Metadata: &metav1.ObjectMetaArgs{Labels: appLabels, Annotations: authAnnotation(args.Auth)},
				Spec: &corev1.PodSpecArgs{
					// The app calls no Kubernetes API.
					AutomountServiceAccountToken: pulumi.Bool(false),
					SecurityContext:              podSecurity(appUID),
					// One replica per node where possible, so a node loss or drain takes
					// down one replica, not all; preferred, so a one-node cluster still runs.
					Affinity: &corev1.AffinityArgs{
						PodAntiAffinity: &corev1.PodAntiAffinityArgs{
							PreferredDuringSchedulingIgnoredDuringExecution: corev1.WeightedPodAffinityTermArray{
								corev1.WeightedPodAffinityTermArgs{
									Weight: pulumi.Int(100),
									PodAffinityTerm: &corev1.PodAffinityTermArgs{
										TopologyKey:   pulumi.String("kubernetes.io/hostname"),
										LabelSelector: &metav1.LabelSelectorArgs{MatchLabels: appLabels},
									},
								},
							},
						},
					},
					Containers: corev1.ContainerArray{corev1.ContainerArgs{
						Name:  pulumi.String("guestbook"),
						Image: args.Image,
						// Always: every pod start asks the registry, so it proves the nodes'
						// pull permission instead of running a cached copy. The reference
						// is a digest, so Always never changes what runs.
						ImagePullPolicy: pulumi.String("Always"),
						Env: corev1.EnvVarArray{
							corev1.EnvVarArgs{Name: pulumi.String("PORT"), Value: pulumi.String(strconv.Itoa(appPort))},
							corev1.EnvVarArgs{Name: pulumi.String("REDIS_ADDR"), Value: pulumi.String(args.RedisAddr)},
							redisPasswordEnv("REDIS_PASSWORD"),
							corev1.EnvVarArgs{Name: pulumi.String("WRITES_PER_MINUTE"), Value: pulumi.String(strconv.Itoa(args.WritesPerMinute))},
							corev1.EnvVarArgs{Name: pulumi.String("WRITE_BURST"), Value: pulumi.String(strconv.Itoa(args.WriteBurst))},
							corev1.EnvVarArgs{Name: pulumi.String("MAX_ENTRIES"), Value: pulumi.String(strconv.Itoa(args.MaxEntries))},
							corev1.EnvVarArgs{Name: pulumi.String("GOMEMLIMIT"), Value: pulumi.String(fmt.Sprintf("%dMiB", appGoMemLimitMiB))},
						},
						Ports: corev1.ContainerPortArray{corev1.ContainerPortArgs{
							Name:          pulumi.String("http"),
							ContainerPort: pulumi.Int(appPort),
						}},
						// The endpoint controller and load balancer take a few seconds to stop
						// sending to a terminating pod; serving on through them drops no
						// requests. (The image has no shell, so the built-in sleep action.)
						Lifecycle: &corev1.LifecycleArgs{
							PreStop: &corev1.LifecycleHandlerArgs{Sleep: &corev1.SleepActionArgs{Seconds: pulumi.Int(5)}},
						},
						// Ready only when Redis answers, so the Service never routes a
						// write to a pod that would refuse it; alive as long as it serves.
						ReadinessProbe: probe("/readyz"),
						LivenessProbe:  probe("/healthz"),
						// Memory request = limit: the scheduler reserves what the pod may use,
						// so node memory pressure never evicts it first. CPU may burst to the
						// limit: throttling at the request (kube-score's optional
						// requests-equal-limits check) would slow page renders for nothing.
						Resources: &corev1.ResourceRequirementsArgs{
							Requests: resourceList("50m", fmt.Sprintf("%dMi", appMemoryMiB), "64Mi"),
							Limits:   resourceList("500m", fmt.Sprintf("%dMi", appMemoryMiB), "128Mi"),
						},
						SecurityContext: containerSecurity(appUID),
					}},
				},
			},
		},
	}, append(opts,
		// No data flows from the pull grants to the pods, so only this edge keeps
		// them from starting, and failing with 401 Unauthorized, before they exist.
		pulumi.DependsOn(args.PullGrants),
		// The pods' nodes: the system pool is tainted for critical add-ons.
		pulumi.DependsOn(args.Nodes),
		pulumi.Timeouts(&pulumi.CustomTimeouts{Create: rolloutTimeout, Update: rolloutTimeout}),
	)...)
	if err != nil {
		return nil, fmt.Errorf("declaring guestbook deployment: %w", err)
	}

	budget, err := policyv1.NewPodDisruptionBudget(ctx, name+"-app", &policyv1.PodDisruptionBudgetArgs{
		Metadata: &metav1.ObjectMetaArgs{
			Name:      pulumi.String(deploymentName),
			Namespace: args.Namespace,
			Labels:    appLabels,
		},
		Spec: disruptionBudget(args.Replicas),
	}, opts...)
	if err != nil {
		return nil, fmt.Errorf("declaring guestbook disruption budget: %w", err)
	}

	spec := &corev1.ServiceSpecArgs{
		Type:     pulumi.String(args.ServiceType),
		Selector: appLabels,
		Ports: corev1.ServicePortArray{corev1.ServicePortArgs{
			Name:       pulumi.String("http"),
			Port:       pulumi.Int(80),
			TargetPort: pulumi.String("http"),
		}},
	}
	if args.ServiceType == "LoadBalancer" {
		// The server limits writes per client address, taken from the TCP peer.
		// With the default (Cluster) policy a node forwards to a pod on another
		// node and SNATs the packet, so the pod would see node addresses and every
		// client behind a node would share one limit. Local keeps the client's
		// address: the Azure load balancer sends only to nodes with a ready pod
		// (its health probe is the Service's healthCheckNodePort), and a node
		// sends only to its own pods, so the spread over nodes also decides the
		// spread of traffic.
		spec.ExternalTrafficPolicy = pulumi.String("Local")
	}
	svc, err := corev1.NewService(ctx, name+"-app", &corev1.ServiceArgs{
		Metadata: &metav1.ObjectMetaArgs{
			Name:      pulumi.String(serviceName),
			Namespace: args.Namespace,
			Labels:    appLabels,
		},
		Spec: spec,
	}, opts...)
	if err != nil {
		return nil, fmt.Errorf("declaring guestbook service: %w", err)
	}
	return &workload{Deployment: deployment, Budget: budget, Service: svc}, nil
}

// disruptionBudget keeps one guestbook pod up through voluntary disruptions (node
// drains, node-image upgrades). With a single replica that budget could never be
// met and would block every drain, so it allows the one pod to be evicted instead.
func disruptionBudget(replicas int) *policyv1.PodDisruptionBudgetSpecArgs {
	spec := &policyv1.PodDisruptionBudgetSpecArgs{
		Selector: &metav1.LabelSelectorArgs{MatchLabels: appLabels},
	}
	if replicas > 1 {
		spec.MinAvailable = pulumi.Int(1)
	} else {
		spec.MaxUnavailable = pulumi.Int(1)
	}
	return spec
}
