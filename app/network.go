// network.go: NetworkPolicies: deny everything in the namespace, then allow the three flows the app needs.

package app

import (
	"fmt"

	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	networkingv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/networking/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// newNetworkPolicies declares, for the namespace:
//   - default-deny: no pod receives or sends anything not allowed below;
//   - allow-dns: every pod may resolve names through the cluster DNS;
//   - guestbook-ingress: anyone may reach the guestbook on its HTTP port (it is
//     published through the Service);
//   - guestbook-to-redis / redis-from-guestbook: the guestbook, and only the guestbook,
//     reaches Redis on 6379 (both ends, since both directions are denied by default).
//
// The cluster's Cilium policy engine enforces them; kubelet probes come from the
// node itself, which Cilium always admits.
func newNetworkPolicies(ctx *pulumi.Context, name string, namespace pulumi.StringOutput, opts ...pulumi.ResourceOption) ([]*networkingv1.NetworkPolicy, error) {
	tcp, udp := pulumi.String("TCP"), pulumi.String("UDP")
	everyPod := &metav1.LabelSelectorArgs{}
	policies := []struct {
		name string
		spec *networkingv1.NetworkPolicySpecArgs
	}{
		{"default-deny", &networkingv1.NetworkPolicySpecArgs{
			PodSelector: everyPod,
			PolicyTypes: pulumi.ToStringArray([]string{"Ingress", "Egress"}),
		}},
		{"allow-dns", &networkingv1.NetworkPolicySpecArgs{
			PodSelector: everyPod,
			PolicyTypes: pulumi.ToStringArray([]string{"Egress"}),
			Egress: networkingv1.NetworkPolicyEgressRuleArray{networkingv1.NetworkPolicyEgressRuleArgs{
				To: networkingv1.NetworkPolicyPeerArray{networkingv1.NetworkPolicyPeerArgs{
					NamespaceSelector: &metav1.LabelSelectorArgs{MatchLabels: pulumi.StringMap{
						"kubernetes.io/metadata.name": pulumi.String("kube-system"),
					}},
					PodSelector: &metav1.LabelSelectorArgs{MatchLabels: pulumi.StringMap{
						"k8s-app": pulumi.String("kube-dns"),
					}},
				}},
				Ports: networkingv1.NetworkPolicyPortArray{
					networkingv1.NetworkPolicyPortArgs{Protocol: udp, Port: pulumi.Int(53)},
					networkingv1.NetworkPolicyPortArgs{Protocol: tcp, Port: pulumi.Int(53)},
				},
			}},
		}},
		{"guestbook-ingress", &networkingv1.NetworkPolicySpecArgs{
			PodSelector: &metav1.LabelSelectorArgs{MatchLabels: appLabels},
			PolicyTypes: pulumi.ToStringArray([]string{"Ingress"}),
			Ingress: networkingv1.NetworkPolicyIngressRuleArray{networkingv1.NetworkPolicyIngressRuleArgs{
				Ports: networkingv1.NetworkPolicyPortArray{
					networkingv1.NetworkPolicyPortArgs{Protocol: tcp, Port: pulumi.Int(appPort)},
				},
			}},
		}},
		{"guestbook-to-redis", &networkingv1.NetworkPolicySpecArgs{
			PodSelector: &metav1.LabelSelectorArgs{MatchLabels: appLabels},
			PolicyTypes: pulumi.ToStringArray([]string{"Egress"}),
			Egress: networkingv1.NetworkPolicyEgressRuleArray{networkingv1.NetworkPolicyEgressRuleArgs{
				To: networkingv1.NetworkPolicyPeerArray{networkingv1.NetworkPolicyPeerArgs{
					PodSelector: &metav1.LabelSelectorArgs{MatchLabels: redisLabels},
				}},
				Ports: networkingv1.NetworkPolicyPortArray{
					networkingv1.NetworkPolicyPortArgs{Protocol: tcp, Port: pulumi.Int(redisPort)},
				},
			}},
		}},
		{"redis-from-guestbook", &networkingv1.NetworkPolicySpecArgs{
			PodSelector: &metav1.LabelSelectorArgs{MatchLabels: redisLabels},
			PolicyTypes: pulumi.ToStringArray([]string{"Ingress"}),
			Ingress: networkingv1.NetworkPolicyIngressRuleArray{networkingv1.NetworkPolicyIngressRuleArgs{
				From: networkingv1.NetworkPolicyPeerArray{networkingv1.NetworkPolicyPeerArgs{
					PodSelector: &metav1.LabelSelectorArgs{MatchLabels: appLabels},
				}},
				Ports: networkingv1.NetworkPolicyPortArray{
					networkingv1.NetworkPolicyPortArgs{Protocol: tcp, Port: pulumi.Int(redisPort)},
				},
			}},
		}},
	}

	out := make([]*networkingv1.NetworkPolicy, 0, len(policies))
	for _, p := range policies {
		np, err := networkingv1.NewNetworkPolicy(ctx, name+"-"+p.name, &networkingv1.NetworkPolicyArgs{
			Metadata: &metav1.ObjectMetaArgs{
				Name:      pulumi.String(p.name),
				Namespace: namespace,
			},
			Spec: p.spec,
		}, opts...)
		if err != nil {
			return nil, fmt.Errorf("declaring network policy %s: %w", p.name, err)
		}
		out = append(out, np)
	}
	return out, nil
}
