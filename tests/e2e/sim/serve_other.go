//go:build !linux

// serve_other.go: outside Linux there is no PR_SET_PDEATHSIG; the engine's health
// check still stops an orphaned plugin, within minutes.

package sim

func dieWithParent() error { return nil }
