// redisauth.go: Redis's password, generated at the first deploy and kept.

package app

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"

	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

const (
	// redisAuthName is the Secret holding Redis's password under redisAuthKey.
	redisAuthName = "redis-auth"
	redisAuthKey  = "password"
)

// newRedisAuth declares the Secret with Redis's password. The program draws a new
// 256-bit password from crypto/rand on every run, but the Secret ignores changes
// to it: the value of the first deploy stays, and a preview shows no diff. To
// rotate it, delete the Secret and run `pulumi up --refresh` (docs/design.md, The workload):
// the refresh forgets it, the update creates it with the new draw, and both
// workloads roll because their pod templates carry the Secret's uid.
func newRedisAuth(ctx *pulumi.Context, name string, namespace pulumi.StringInput, opts ...pulumi.ResourceOption) (*corev1.Secret, error) {
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return nil, fmt.Errorf("drawing the Redis password: %w", err)
	}
	secret, err := corev1.NewSecret(ctx, name+"-redis-auth", &corev1.SecretArgs{
		Metadata: &metav1.ObjectMetaArgs{
			Name:      pulumi.String(redisAuthName),
			Namespace: namespace,
			Labels:    pulumi.StringMap{"app.kubernetes.io/part-of": pulumi.String(partOf)},
		},
		Type: pulumi.String("Opaque"),
		StringData: pulumi.StringMap{
			redisAuthKey: pulumi.ToSecret(pulumi.String(base64.RawURLEncoding.EncodeToString(raw))).(pulumi.StringOutput),
		},
		// Immutable: a password change is a new Secret (and a rollout), never an
		// edit pods would see at different times.
		Immutable: pulumi.Bool(true),
	}, append(opts, pulumi.IgnoreChanges([]string{"stringData", "data"}))...)
	if err != nil {
		return nil, fmt.Errorf("declaring Redis password secret: %w", err)
	}
	return secret, nil
}

// redisPasswordEnv is an environment variable holding Redis's password, read
// from the Secret by the kubelet: it is in no pod spec and in no Pulumi input.
func redisPasswordEnv(name string) corev1.EnvVarArgs {
	return corev1.EnvVarArgs{
		Name: pulumi.String(name),
		ValueFrom: &corev1.EnvVarSourceArgs{SecretKeyRef: &corev1.SecretKeySelectorArgs{
			Name: pulumi.String(redisAuthName),
			Key:  pulumi.String(redisAuthKey),
		}},
	}
}

// authAnnotation makes a pod template change when the Secret is replaced, so a
// rotated password rolls the pods that read it.
func authAnnotation(secret *corev1.Secret) pulumi.StringMap {
	return pulumi.StringMap{"guestbook/redis-auth-uid": secret.Metadata.Uid().Elem()}
}
