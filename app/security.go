// security.go: the hardening every pod of the app shares, so Pod Security "restricted" admits it.

package app

import (
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// podSecurity is the pod-level security context for a process running as uid:uid.
// UIDs above 10000 cannot collide with a node's system users should a container
// ever escape; fsGroup makes mounted volumes writable by that uid without root.
func podSecurity(uid int) *corev1.PodSecurityContextArgs {
	return &corev1.PodSecurityContextArgs{
		RunAsNonRoot:        pulumi.Bool(true),
		RunAsUser:           pulumi.Int(uid),
		RunAsGroup:          pulumi.Int(uid),
		FsGroup:             pulumi.Int(uid),
		FsGroupChangePolicy: pulumi.String("OnRootMismatch"),
		SeccompProfile:      &corev1.SeccompProfileArgs{Type: pulumi.String("RuntimeDefault")},
	}
}

// containerSecurity is the container-level security context: no privilege
// escalation, no capabilities, nothing writable but mounted volumes. It repeats the
// user and seccomp settings because linters and some admission policies read only
// the container level.
func containerSecurity(uid int) *corev1.SecurityContextArgs {
	return &corev1.SecurityContextArgs{
		RunAsNonRoot:             pulumi.Bool(true),
		RunAsUser:                pulumi.Int(uid),
		RunAsGroup:               pulumi.Int(uid),
		AllowPrivilegeEscalation: pulumi.Bool(false),
		Privileged:               pulumi.Bool(false),
		ReadOnlyRootFilesystem:   pulumi.Bool(true),
		Capabilities:             &corev1.CapabilitiesArgs{Drop: pulumi.StringArray{pulumi.String("ALL")}},
		SeccompProfile:           &corev1.SeccompProfileArgs{Type: pulumi.String("RuntimeDefault")},
	}
}

// resourceList is a compact way to write CPU, memory and ephemeral-storage quantities.
func resourceList(cpu, memory, ephemeral string) pulumi.StringMap {
	return pulumi.StringMap{
		"cpu":               pulumi.String(cpu),
		"memory":            pulumi.String(memory),
		"ephemeral-storage": pulumi.String(ephemeral),
	}
}
