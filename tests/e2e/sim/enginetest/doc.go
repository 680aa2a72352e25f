// Package enginetest checks the simulated providers under the real Pulumi engine:
// the pulumi CLI drives an inline program shaped like the guestbook's Azure layer
// (no Kubernetes) through the Automation API, with the two plugins on $PATH.
// It is a package of its own so that the sim package's unit tests need not link
// the Azure SDKs and the Automation API.
package enginetest
