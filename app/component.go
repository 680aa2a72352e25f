// Package app declares the application layer of the guestbook stack: the image,
// built and pushed to the stack's registry, and the workload on the stack's cluster
// (namespace, Redis, the guestbook Deployment and Service, NetworkPolicies).
//
// The guestbook server itself lives in ./guestbook, a Go module of its own, so the
// image's build context holds the server and nothing of the Pulumi program.
package app

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// partOf labels everything the app layer creates in the cluster.
const partOf = "guestbook"

// GuestbookArgs are the inputs of the application layer.
type GuestbookArgs struct {
	// Provider is the Kubernetes provider of the stack's cluster. Required: no
	// Kubernetes resource may fall back to the ambient kubeconfig.
	Provider pulumi.ProviderResource
	// RegistryLoginServer is the registry the image is pushed to and pulled from.
	RegistryLoginServer pulumi.StringOutput
	// PullGrants are the cluster's permissions to pull from that registry (the
	// kubelet identity's AcrPull and Container Registry Repository Reader
	// assignments). Required: the workload waits for them.
	PullGrants []pulumi.Resource
	// Nodes are the node pools the workloads run on. Required: a pod has
	// nowhere to go before one exists, so the workloads wait for them.
	Nodes []pulumi.Resource
	// SourceDir is the image's build context, holding its Dockerfile.
	SourceDir string
	// ImageTag tags the pushed image; the workload runs it by digest regardless.
	ImageTag string
	// Namespace is the Kubernetes namespace created for the app.
	Namespace string
	// Replicas is the guestbook Deployment's replica count.
	Replicas int
	// ServiceType is the guestbook Service's type: LoadBalancer or ClusterIP.
	ServiceType string
	// RedisImage is the Redis image in the stack's registry, pinned by tag or
	// digest: pulled through the same pull grants as the guestbook.
	RedisImage pulumi.StringInput
	// WritesPerMinute and WriteBurst are the write limit of one client address:
	// its token bucket's rate and size. The server enforces them.
	WritesPerMinute, WriteBurst int
	// MaxEntries is how many entries the server keeps; writes trim the oldest.
	MaxEntries int

	// tokens exchanges Azure tokens for registry tokens; nil means the registry's own
	// endpoint. Package tests point it at a local server.
	tokens *tokenExchanger
}

// Guestbook is the application layer.
type Guestbook struct {
	pulumi.ResourceState

	// ImageRef is the pushed image, pinned by digest: <registry>/guestbook@sha256:….
	ImageRef pulumi.StringOutput
	// URL is http://<load balancer IP> when ServiceType is LoadBalancer, else "".
	URL pulumi.StringOutput
}

// NewGuestbook declares the application layer as a component named name.
//
// The graph it builds: the image waits for the registry (its name holds the login
// server); every Kubernetes resource waits for the cluster (through the provider);
// the Deployment waits for the image (its digest) and for the pull grants (an
// explicit edge), so no pod can start before its nodes may pull.
func NewGuestbook(ctx *pulumi.Context, name string, args *GuestbookArgs, opts ...pulumi.ResourceOption) (*Guestbook, error) {
	switch {
	case args == nil:
		return nil, errors.New("app.NewGuestbook: args are required")
	case args.Provider == nil:
		return nil, errors.New("app.NewGuestbook: a Kubernetes provider for the stack's cluster is required")
	case len(args.PullGrants) == 0:
		return nil, errors.New("app.NewGuestbook: the cluster's pull grants on the registry are required")
	case len(args.Nodes) == 0:
		return nil, errors.New("app.NewGuestbook: the node pools the workloads run on are required")
	case args.RedisImage == nil:
		return nil, errors.New("app.NewGuestbook: the Redis image in the stack's registry is required")
	}

	gb := &Guestbook{}
	if err := ctx.RegisterComponentResource("guestbook:app:Guestbook", name, gb, opts...); err != nil {
		return nil, fmt.Errorf("registering Guestbook component: %w", err)
	}
	parent := pulumi.Parent(gb)
	onCluster := []pulumi.ResourceOption{parent, pulumi.Provider(args.Provider)}

	tokens := args.tokens
	if tokens == nil {
		tokens = newTokenExchanger()
	}
	image, err := newImage(ctx, name, imageArgs{
		LoginServer: args.RegistryLoginServer,
		Password:    registryPassword(ctx, args.RegistryLoginServer, tokens, parent),
		SourceDir:   args.SourceDir,
		Tag:         args.ImageTag,
	}, parent)
	if err != nil {
		return nil, err
	}

	ns, err := newNamespace(ctx, name, args.Namespace, onCluster...)
	if err != nil {
		return nil, err
	}
	namespace := ns.Metadata.Name().Elem()

	if _, err := newNetworkPolicies(ctx, name, namespace, onCluster...); err != nil {
		return nil, err
	}
	auth, err := newRedisAuth(ctx, name, namespace, onCluster...)
	if err != nil {
		return nil, err
	}
	if _, err := newRedis(ctx, name, redisArgs{
		Namespace: namespace, Image: args.RedisImage, PullGrants: args.PullGrants, Nodes: args.Nodes, Auth: auth,
	}, onCluster...); err != nil {
		return nil, err
	}
	wl, err := newWorkload(ctx, name, workloadArgs{
		Namespace:       namespace,
		Image:           image.RepoDigest,
		Replicas:        args.Replicas,
		ServiceType:     args.ServiceType,
		RedisAddr:       redisName + ":" + strconv.Itoa(redisPort),
		PullGrants:      args.PullGrants,
		Nodes:           args.Nodes,
		Auth:            auth,
		WritesPerMinute: args.WritesPerMinute,
		WriteBurst:      args.WriteBurst,
		MaxEntries:      args.MaxEntries,
	}, onCluster...)
	if err != nil {
		return nil, err
	}

	gb.ImageRef = image.RepoDigest
	gb.URL = pulumi.String("").ToStringOutput()
	if args.ServiceType == "LoadBalancer" {
		gb.URL = wl.Service.Status.LoadBalancer().Ingress().Index(pulumi.Int(0)).Ip().Elem().ApplyT(func(ip string) string {
			return "http://" + ip
		}).(pulumi.StringOutput)
	}
	if err := ctx.RegisterResourceOutputs(gb, pulumi.Map{
		"imageRef": gb.ImageRef,
		"url":      gb.URL,
	}); err != nil {
		return nil, fmt.Errorf("registering Guestbook component outputs: %w", err)
	}
	return gb, nil
}
