// redis.go: Redis, the guestbook's storage: one replica on a persistent volume, append-only.

package app

import (
	"fmt"
	"strconv"

	appsv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/apps/v1"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

const (
	// redisName is the Service's name; the guestbook finds Redis by it (redis:6379).
	redisName = "redis"
	redisPort = 6379
	// redisUID is the uid Redis runs as: not the image's 999 (below 10000) but a
	// dedicated one; Redis needs no user entry, and fsGroup gives it the volume.
	redisUID = 10999
	// redisMaxMemory is below the container's memory limit so Redis refuses writes
	// (noeviction) before the kernel kills it, and never evicts an entry silently.
	redisMaxMemory = "200mb"
)

// redisLabels select Redis pods, in the Service, the StatefulSet and NetworkPolicies.
var redisLabels = pulumi.StringMap{"app": pulumi.String(redisName)}

type redisArgs struct {
	Namespace pulumi.StringOutput
	// Image is Redis in the stack's registry (its cache of the upstream image).
	Image pulumi.StringInput
	// PullGrants are the nodes' permissions to pull Image.
	PullGrants []pulumi.Resource
	// Nodes are the pools Redis may be scheduled on.
	Nodes []pulumi.Resource
	// Auth is the Secret with the password Redis requires.
	Auth *corev1.Secret
}

type redis struct {
	StatefulSet *appsv1.StatefulSet
	// Service is the stable address clients use; Headless governs the StatefulSet.
	Service, Headless *corev1.Service
}

// newRedis declares Redis as a StatefulSet, so its PersistentVolumeClaim follows the
// pod across restarts and node drains, with append-only persistence so an
// acknowledged write survives a crash. One replica: the guestbook needs no HA storage,
// and Redis replication would need Sentinel to fail over.
func newRedis(ctx *pulumi.Context, name string, args redisArgs, opts ...pulumi.ResourceOption) (*redis, error) {
	service := func(logical, svcName, clusterIP string) (*corev1.Service, error) {
		spec := &corev1.ServiceSpecArgs{
			Type:     pulumi.String("ClusterIP"),
			Selector: redisLabels,
			Ports: corev1.ServicePortArray{corev1.ServicePortArgs{
				Name:       pulumi.String("redis"),
				Port:       pulumi.Int(redisPort),
				TargetPort: pulumi.String("redis"),
			}},
		}
		if clusterIP != "" {
			spec.ClusterIP = pulumi.String(clusterIP)
		}
		svc, err := corev1.NewService(ctx, logical, &corev1.ServiceArgs{
			Metadata: &metav1.ObjectMetaArgs{
				Name:      pulumi.String(svcName),
				Namespace: args.Namespace,
				Labels:    redisLabels,
			},
			Spec: spec,
		}, opts...)
		if err != nil {
			return nil, fmt.Errorf("declaring Redis service %s: %w", svcName, err)
		}
		return svc, nil
	}
	// Clients use a virtual IP that survives pod restarts...
	svc, err := service(name+"-redis", redisName, "")
	if err != nil {
		return nil, err
	}
	// ...while the StatefulSet needs a headless Service for its pods' stable identity.
	headless, err := service(name+"-redis-headless", redisName+"-headless", "None")
	if err != nil {
		return nil, err
	}

	port := strconv.Itoa(redisPort)
	sts, err := appsv1.NewStatefulSet(ctx, name+"-redis", &appsv1.StatefulSetArgs{
		Metadata: &metav1.ObjectMetaArgs{
			Name:      pulumi.String(redisName),
			Namespace: args.Namespace,
			Labels:    redisLabels,
		},
		Spec: &appsv1.StatefulSetSpecArgs{
			ServiceName: headless.Metadata.Name().Elem(),
			Replicas:    pulumi.Int(1),
			Selector:    &metav1.LabelSelectorArgs{MatchLabels: redisLabels},
			Template: &corev1.PodTemplateSpecArgs{
				Metadata: &metav1.ObjectMetaArgs{Labels: redisLabels, Annotations: authAnnotation(args.Auth)},
				Spec: &corev1.PodSpecArgs{
					AutomountServiceAccountToken: pulumi.Bool(false),
					SecurityContext:              podSecurity(redisUID),
					Containers: corev1.ContainerArray{corev1.ContainerArgs{
						Name:            pulumi.String("redis"),
						Image:           args.Image,
						ImagePullPolicy: pulumi.String("Always"),
						// redis-server directly, not the image's entrypoint script, whose
						// only extra work (chown as root) cannot run here anyway.
						Command: pulumi.StringArray{pulumi.String("redis-server")},
						Args: pulumi.ToStringArray([]string{
							"--port", port,
							"--dir", "/data",
							"--appendonly", "yes",
							"--appendfsync", "everysec",
							"--maxmemory", redisMaxMemory,
							"--maxmemory-policy", "noeviction",
							// The kubelet expands $(REDIS_PASSWORD) from the Secret: the
							// password is in no pod spec. NetworkPolicies admit only the
							// guestbook, and the password is the second lock.
							"--requirepass", "$(REDIS_PASSWORD)",
						}),
						Env: corev1.EnvVarArray{
							redisPasswordEnv("REDIS_PASSWORD"),
							// redis-cli in the readiness probe reads its password here.
							redisPasswordEnv("REDISCLI_AUTH"),
						},
						Ports: corev1.ContainerPortArray{corev1.ContainerPortArgs{
							Name:          pulumi.String("redis"),
							ContainerPort: pulumi.Int(redisPort),
						}},
						VolumeMounts: corev1.VolumeMountArray{corev1.VolumeMountArgs{
							Name:      pulumi.String("data"),
							MountPath: pulumi.String("/data"),
						}},
						ReadinessProbe: &corev1.ProbeArgs{
							Exec: &corev1.ExecActionArgs{Command: pulumi.ToStringArray([]string{
								"sh", "-c", "redis-cli -p " + port + " ping | grep -q PONG",
							})},
							PeriodSeconds:  pulumi.Int(5),
							TimeoutSeconds: pulumi.Int(2),
						},
						// Liveness only asks whether the port answers: a Redis still loading
						// its append-only file is alive, just not ready.
						LivenessProbe: &corev1.ProbeArgs{
							TcpSocket:           &corev1.TCPSocketActionArgs{Port: pulumi.String("redis")},
							InitialDelaySeconds: pulumi.Int(15),
							PeriodSeconds:       pulumi.Int(10),
							FailureThreshold:    pulumi.Int(6),
						},
						// As for the guestbook: memory reserved in full, CPU may burst.
						Resources: &corev1.ResourceRequirementsArgs{
							Requests: resourceList("50m", "256Mi", "64Mi"),
							Limits:   resourceList("500m", "256Mi", "128Mi"),
						},
						SecurityContext: containerSecurity(redisUID),
					}},
				},
			},
			VolumeClaimTemplates: corev1.PersistentVolumeClaimTypeArray{corev1.PersistentVolumeClaimTypeArgs{
				Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String("data")},
				Spec: &corev1.PersistentVolumeClaimSpecArgs{
					// No storageClassName: the cluster's default class (Azure Disk on AKS).
					AccessModes: pulumi.StringArray{pulumi.String("ReadWriteOnce")},
					Resources: &corev1.VolumeResourceRequirementsArgs{
						Requests: pulumi.StringMap{"storage": pulumi.String("1Gi")},
					},
				},
			}},
		},
	}, append(opts,
		// Redis comes from the stack's registry too, so it waits for the nodes'
		// pull permissions like the guestbook (no data flows from the grants).
		pulumi.DependsOn(args.PullGrants),
		// Nor from the user pool: without it the pod is Pending, the system
		// pool's taint keeps it off the only nodes there are.
		pulumi.DependsOn(args.Nodes),
		pulumi.Timeouts(&pulumi.CustomTimeouts{Create: rolloutTimeout, Update: rolloutTimeout}),
	)...)
	if err != nil {
		return nil, fmt.Errorf("declaring Redis statefulset: %w", err)
	}
	return &redis{StatefulSet: sts, Service: svc, Headless: headless}, nil
}
