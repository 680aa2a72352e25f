// cluster.go: the simulated AKS cluster: a real Kubernetes control plane on
// loopback (etcd, kube-apiserver, kube-controller-manager, kube-scheduler from
// tests/apiserver) whose nodes and kubelets are played by kwok.

package e2e

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"gopkg.in/yaml.v3"
)

//go:embed stages/*.yaml
var stageFiles embed.FS

// NodeCount is how many nodes the simulated system pool has. User pools'
// nodes come and go with the simulated cloud's agent pools (nodes.go).
const NodeCount = 2

// pullAnnotation is set on a pod by the image-pull simulation (pullgate.go) once
// every image of the pod could be pulled; kwok starts only such pods.
const pullAnnotation = "sim.guestbook.dev/images-pulled"

// Cluster is a running control plane with kwok nodes.
type Cluster struct {
	Kube *Kube
	// Version is the API server's gitVersion.
	Version string
	// CAFile is the API server's CA certificate.
	CAFile string
	dir    string
	addr   string
}

// controlPlaneEndpoint is tests/apiserver's endpoint.json.
type controlPlaneEndpoint struct {
	URL               string `json:"url"`
	CAFile            string `json:"caFile"`
	Token             string `json:"token"`
	Kubeconfig        string `json:"kubeconfig"`
	ControlPlaneReady bool   `json:"controlPlaneReady"`
}

// ClusterOptions shape the simulated cluster.
type ClusterOptions struct {
	// PodStartDelay is how long a pod takes from its images being pulled to
	// Ready: the image's start-up and its readiness probe.
	PodStartDelay time.Duration
}

// StartCluster starts the control plane and kwok in dir; stop undoes both.
func StartCluster(ctx context.Context, tools Tools, dir string, opts ClusterOptions, logf func(string, ...any)) (c *Cluster, stop func() error, err error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, nil, err
	}
	var stops stoppers
	stop = stops.stop
	defer func() {
		if err != nil {
			_ = stop()
		}
	}()

	cpStop, err := startProcess(tools.ControlPlane, filepath.Join(dir, "control-plane.log"), true,
		"-dir", filepath.Join(dir, "control-plane"), "-control-plane", "-stop-on-stdin-close")
	if err != nil {
		return nil, stop, fmt.Errorf("starting the control plane: %w", err)
	}
	stops.add(cpStop)

	var ep controlPlaneEndpoint
	epFile := filepath.Join(dir, "control-plane", "endpoint.json")
	if err := waitFor(ctx, "the control plane (etcd, kube-apiserver, controller manager, scheduler) to be ready: see "+filepath.Join(dir, "control-plane.log"),
		3*time.Minute, 250*time.Millisecond, func(ctx context.Context) (bool, string, error) {
			b, err := os.ReadFile(epFile)
			if err != nil {
				return false, "no endpoint.json yet", nil
			}
			if err := json.Unmarshal(b, &ep); err != nil || !ep.ControlPlaneReady {
				return false, "the API server is up; the controller manager and scheduler are not ready yet", nil
			}
			return true, "", nil
		}); err != nil {
		return nil, stop, err
	}
	kube, err := newKube(ep.URL, ep.CAFile, ep.Token)
	if err != nil {
		return nil, stop, err
	}
	u, err := url.Parse(ep.URL)
	if err != nil {
		return nil, stop, fmt.Errorf("the control plane's URL %q: %w", ep.URL, err)
	}
	c = &Cluster{Kube: kube, CAFile: ep.CAFile, dir: dir, addr: u.Host}
	if err := waitFor(ctx, "the API server's /readyz", time.Minute, 200*time.Millisecond, func(ctx context.Context) (bool, string, error) {
		err := kube.Do(ctx, http.MethodGet, "/readyz", "", nil, nil)
		if err != nil {
			return false, err.Error(), nil
		}
		return true, "", nil
	}); err != nil {
		return nil, stop, err
	}
	var version struct {
		GitVersion string `json:"gitVersion"`
	}
	if err := kube.Get(ctx, "/version", &version); err != nil {
		return nil, stop, err
	}
	c.Version = version.GitVersion

	stagesFile := filepath.Join(dir, "kwok-stages.yaml")
	if err := writeStages(stagesFile, tools.KwokStages, opts); err != nil {
		return nil, stop, err
	}
	kwokStop, err := startProcess(tools.Kwok, filepath.Join(dir, "kwok.log"), false,
		"--kubeconfig="+ep.Kubeconfig,
		"--config="+stagesFile,
		"--manage-all-nodes=false",
		"--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
		"--node-lease-duration-seconds=40",
		"--cidr=10.244.0.0/16",
		"--node-ip=10.224.0.4",
		"--server-address=127.0.0.1:0",
	)
	if err != nil {
		return nil, stop, fmt.Errorf("starting kwok: %w", err)
	}
	stops.add(kwokStop)

	if err := c.createPool(ctx); err != nil {
		return nil, stop, err
	}
	logf("cluster: Kubernetes %s at %s, %d kwok nodes", c.Version, ep.URL, NodeCount)
	return c, stop, nil
}

// createPool creates the default storage class AKS has (here provisioned by
// kwok's volume stages) and the node pool, and waits until every node is Ready.
func (c *Cluster) createPool(ctx context.Context) error {
	sc := map[string]any{
		"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
		"metadata": map[string]any{
			"name":        "kwok-volume",
			"annotations": map[string]string{"storageclass.kubernetes.io/is-default-class": "true"},
		},
		"provisioner":       "kwok.x-k8s.io/volume",
		"reclaimPolicy":     "Delete",
		"volumeBindingMode": "Immediate",
	}
	if err := c.Kube.Create(ctx, "/apis/storage.k8s.io/v1/storageclasses", sc); err != nil {
		return fmt.Errorf("creating the default storage class: %w", err)
	}
	// The system pool's nodes, tainted as the program asks (infra/cluster.go):
	// only critical add-ons tolerate it, so the app's pods wait for a user pool.
	taint := []map[string]string{{"key": "CriticalAddonsOnly", "value": "true", "effect": "NoSchedule"}}
	for i := range NodeCount {
		name := "aks-system-" + strconv.Itoa(i)
		if err := c.Kube.Create(ctx, "/api/v1/nodes", kwokNode(name, "system", "system", taint)); err != nil {
			return fmt.Errorf("creating node %s: %w", name, err)
		}
	}
	return waitFor(ctx, "kwok to make every node Ready", time.Minute, 200*time.Millisecond, func(ctx context.Context) (bool, string, error) {
		var nodes list[struct {
			object
			Status struct {
				Conditions []struct{ Type, Status string } `json:"conditions"`
			} `json:"status"`
		}]
		if err := c.Kube.Get(ctx, "/api/v1/nodes", &nodes); err != nil {
			return false, "", err
		}
		ready := 0
		for _, n := range nodes.Items {
			for _, cond := range n.Status.Conditions {
				if cond.Type == "Ready" && cond.Status == "True" {
					ready++
				}
			}
		}
		return ready == NodeCount, fmt.Sprintf("%d of %d nodes Ready", ready, NodeCount), nil
	})
}

// Addr is the API server's host:port.
func (c *Cluster) Addr() string { return c.addr }

// writeStages writes kwok's configuration: kwok's own node, pod and volume stages
// from its module, with the pod-ready stage gated on the image-pull simulation
// and delayed by opts.PodStartDelay, plus the stages of this directory.
func writeStages(path, upstream string, opts ClusterOptions) error {
	var docs [][]byte
	for _, f := range []string{
		"node/fast/node-initialize.yaml",
		"node/heartbeat-with-lease/node-heartbeat-with-lease.yaml",
		"pod/fast/pod-ready.yaml",
		"pod/fast/pod-complete.yaml",
		"pod/fast/pod-delete.yaml",
		"volume/fast/pvc-provision.yaml",
		"volume/fast/pv-bind.yaml",
		"volume/fast/pvc-delete.yaml",
		"volume/fast/pv-delete.yaml",
	} {
		b, err := os.ReadFile(filepath.Join(upstream, f))
		if err != nil {
			return fmt.Errorf("reading kwok's stage %s: %w", f, err)
		}
		if filepath.Base(f) == "pod-ready.yaml" {
			if b, err = gatePodReady(b, opts.PodStartDelay); err != nil {
				return err
			}
		}
		docs = append(docs, b)
	}
	own, err := stageFiles.ReadDir("stages")
	if err != nil {
		return err
	}
	for _, e := range own {
		b, err := stageFiles.ReadFile("stages/" + e.Name())
		if err != nil {
			return err
		}
		docs = append(docs, b)
	}
	return os.WriteFile(path, bytes.Join(docs, []byte("\n---\n")), 0o600)
}

// gatePodReady adds to kwok's pod-ready stage the condition that the image-pull
// simulation has pulled the pod's images, and the start-up delay.
func gatePodReady(stage []byte, delay time.Duration) ([]byte, error) {
	var doc map[string]any
	if err := yaml.Unmarshal(stage, &doc); err != nil {
		return nil, fmt.Errorf("parsing kwok's pod-ready stage: %w", err)
	}
	spec, _ := doc["spec"].(map[string]any)
	selector, _ := spec["selector"].(map[string]any)
	exprs, _ := selector["matchExpressions"].([]any)
	if spec == nil || selector == nil || exprs == nil {
		return nil, errors.New("kwok's pod-ready stage has no spec.selector.matchExpressions: its format changed")
	}
	selector["matchExpressions"] = append(exprs, map[string]any{
		"key":      `.metadata.annotations["` + pullAnnotation + `"]`,
		"operator": "In",
		"values":   []string{"true"},
	})
	if delay > 0 {
		spec["delay"] = map[string]any{"durationMilliseconds": delay.Milliseconds()}
	}
	return yaml.Marshal(doc)
}

// startProcess starts bin with args, its output in logPath. With viaStdin it is
// stopped by closing its standard input (tests/apiserver's -stop-on-stdin-close),
// else by SIGTERM. Either way it dies with this process (Pdeathsig).
func startProcess(bin, logPath string, viaStdin bool, args ...string) (stop func() error, err error) {
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	var stdin io.WriteCloser
	if viaStdin {
		if stdin, err = cmd.StdinPipe(); err != nil {
			logFile.Close()
			return nil, err
		}
	}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait(); logFile.Close() }()
	return func() error {
		if viaStdin {
			stdin.Close()
		} else {
			_ = cmd.Process.Signal(syscall.SIGTERM)
		}
		select {
		case <-exited:
			return nil
		case <-time.After(time.Minute):
			_ = cmd.Process.Kill()
			<-exited
			return fmt.Errorf("%s did not stop within a minute; killed", filepath.Base(bin))
		}
	}, nil
}

// stoppers undo what was started, last first.
type stoppers []func() error

func (s *stoppers) add(stop func() error) { *s = append(*s, stop) }

func (s *stoppers) stop() error {
	var errs []error
	for i := len(*s) - 1; i >= 0; i-- {
		errs = append(errs, (*s)[i]())
	}
	return errors.Join(errs...)
}
