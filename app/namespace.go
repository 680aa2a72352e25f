// namespace.go: the app's namespace, where Pod Security "restricted" is enforced.

package app

import (
	"fmt"

	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// podSecurityLevel is the Pod Security Standard the namespace enforces. "restricted"
// is the strictest; every pod of the app is written to pass it, so a regression is
// refused by the API server instead of running with more privilege than it needs.
const podSecurityLevel = "restricted"

func newNamespace(ctx *pulumi.Context, name, namespace string, opts ...pulumi.ResourceOption) (*corev1.Namespace, error) {
	ns, err := corev1.NewNamespace(ctx, name+"-namespace", &corev1.NamespaceArgs{
		Metadata: &metav1.ObjectMetaArgs{
			// A fixed name: Services are found by DNS as <name>.<namespace>.
			Name: pulumi.String(namespace),
			Labels: pulumi.StringMap{
				"pod-security.kubernetes.io/enforce": pulumi.String(podSecurityLevel),
				"pod-security.kubernetes.io/audit":   pulumi.String(podSecurityLevel),
				"pod-security.kubernetes.io/warn":    pulumi.String(podSecurityLevel),
				"app.kubernetes.io/part-of":          pulumi.String(partOf),
			},
		},
	}, opts...)
	if err != nil {
		return nil, fmt.Errorf("declaring namespace %s: %w", namespace, err)
	}
	return ns, nil
}
