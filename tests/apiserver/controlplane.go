// The rest of a control plane, for -control-plane: kube-controller-manager and
// kube-scheduler of the same release, each a child process running this binary.

package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/component-base/cli"
	controllermanager "k8s.io/kubernetes/cmd/kube-controller-manager/app"
	"k8s.io/kubernetes/cmd/kube-controller-manager/names"
	scheduler "k8s.io/kubernetes/cmd/kube-scheduler/app"
)

const (
	// Each component's command line, /healthz and /readyz are those of the release
	// binaries; the names are the first argument of a child and name its log.
	controllerManagerName = "controller-manager"
	schedulerName         = "scheduler"

	// readyTimeout bounds the wait for the API server, then for both components. A
	// component is up in seconds; minutes leave room for a loaded 2-core machine.
	readyTimeout = 2 * time.Minute
	// stopTimeout is how long a component has to exit after SIGTERM before SIGKILL;
	// kube-controller-manager gives its controllers 10s by default.
	stopTimeout = 30 * time.Second
	// startAttempts covers a free port taken by someone else before the child binds it.
	startAttempts = 3
)

// requiredControllers are the kube-controller-manager controllers that the guestbook's
// rehearsal needs (all of them run with --controllers=*, like in a real cluster):
// each must be listed by /healthz?verbose before the control plane counts as ready,
// so that a controller renamed or disabled by default in a later release fails here,
// by name, rather than as a Deployment that never gets Pods.
var requiredControllers = []string{
	names.ServiceAccountTokenController, // tokens for ServiceAccounts; needs the signing key
	names.ServiceAccountController,      // "default" in every namespace; Pods need it
	names.RootCACertificatePublisherController,
	names.DeploymentController,
	names.ReplicaSetController,
	names.StatefulSetController,
	names.EndpointsController,
	names.EndpointSliceController,
	names.DisruptionController, // PodDisruptionBudget status
	names.NamespaceController,  // namespace deletion; `pulumi destroy` waits for it
	names.GarbageCollectorController,
	names.PodGarbageCollectorController,
	names.PersistentVolumeBinderController, // a StatefulSet's volumeClaimTemplates
	names.PersistentVolumeClaimProtectionController,
	names.PersistentVolumeProtectionController,
	names.NodeLifecycleController,
	names.TaintEvictionController,
}

// ComponentEndpoint is how to reach a running control-plane component.
type ComponentEndpoint struct {
	// URL is its secure serving base URL, https://127.0.0.1:PORT, with a certificate
	// signed by Endpoint.CAFile; /healthz, /livez and /readyz need no credentials.
	URL string `json:"url"`
	// Log is the file its standard output and error go to.
	Log string `json:"log"`
	// PID is the child process's.
	PID int `json:"pid"`
}

// runComponent runs, in this process, the control-plane component that args[0]
// names, as a child started by controlPlane; ok is false when args name none.
func runComponent(args []string) (code int, ok bool) {
	if len(args) == 0 {
		return 0, false
	}
	var cmd *cobra.Command
	switch args[0] {
	case controllerManagerName:
		cmd = controllermanager.NewControllerManagerCommand()
	case schedulerName:
		cmd = scheduler.NewSchedulerCommand()
	default:
		return 0, false
	}
	cmd.SetArgs(args[1:])
	return cli.Run(cmd), true
}

// component is how the parent starts a component and tells that it is ready.
type component struct {
	name string // controllerManagerName or schedulerName
	// args is its command line, serving on port.
	args func(port int) []string
	// ready returns nil once it is ready, else what it is still waiting for.
	ready func(url string) error
}

// child is one started component process.
type child struct {
	component
	url, log string
	cmd      *exec.Cmd
	done     chan struct{} // closed once it has exited
	err      error         // its exit status, once done is closed
}

// controlPlane runs the components once the API server is ready, and stops them.
type controlPlane struct {
	dir        string
	files      generated
	kubeconfig string
	apiURL     string
	client     *http.Client // trusts the generated CA; no proxy

	// shutdown stops everything; run sets it.
	shutdown func()

	mu       sync.Mutex
	stopping bool
	children []*child
	failure  error
}

func newControlPlane(dir string, files generated, kubeconfig, apiURL string) (*controlPlane, error) {
	ca, err := os.ReadFile(files.caCert)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca) {
		return nil, fmt.Errorf("%s holds no certificate", files.caCert)
	}
	return &controlPlane{
		dir:        dir,
		files:      files,
		kubeconfig: kubeconfig,
		apiURL:     apiURL,
		client: &http.Client{
			Timeout: 5 * time.Second,
			Transport: &http.Transport{
				TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
				Proxy:           nil, // loopback; never through a proxy from the environment
			},
		},
	}, nil
}

// components returns the two components, with the flags this control plane needs.
func (cp *controlPlane) components() []component {
	// Both serve on loopback with the API server's certificate (valid for 127.0.0.1),
	// and ask the API server who a caller is and what it may do, as kubeadm's do:
	// the admin token works on every path, no credentials on /healthz and /readyz.
	common := func(port int) []string {
		return []string{
			"--kubeconfig=" + cp.kubeconfig,
			"--authentication-kubeconfig=" + cp.kubeconfig,
			"--authorization-kubeconfig=" + cp.kubeconfig,
			// No client certificates here, so the API server publishes no
			// ConfigMap extension-apiserver-authentication; without this, both
			// log, for ever, that they cannot find it.
			"--authentication-skip-lookup",
			"--bind-address=127.0.0.1",
			"--secure-port=" + strconv.Itoa(port),
			"--tls-cert-file=" + cp.files.servingCert,
			"--tls-private-key-file=" + cp.files.servingKey,
			// One instance of each: nothing to elect, and no Lease to wait for.
			"--leader-elect=false",
			"--profiling=false",
		}
	}
	return []component{
		{
			name: controllerManagerName,
			args: func(port int) []string {
				return append(common(port),
					// Every controller enabled by default, as in a real cluster; the
					// ones the rehearsal needs are checked by ready. Since v1.31 no
					// cloud controllers are built in, so there are none to turn off,
					// and Pod IPs come from kwok, so no node CIDRs are allocated.
					"--controllers=*",
					"--service-account-private-key-file="+cp.files.saKey,
					"--root-ca-file="+cp.files.caCert,
					// The admin credentials (system:masters) for every controller,
					// rather than a token per controller's ServiceAccount.
					"--use-service-account-credentials=false",
				)
			},
			ready: cp.controllerManagerReady,
		},
		{
			name: schedulerName,
			args: common, // the default scheduling profile
			ready: func(url string) error {
				// /readyz waits for the informers' caches and event handlers.
				return cp.get(url+"/readyz", "", nil)
			},
		},
	}
}

// controllerManagerReady requires every required controller in /healthz and a sign
// that controllers act on the API server: the ServiceAccount "default" in namespace
// "default", which the serviceaccount controller creates.
func (cp *controlPlane) controllerManagerReady(url string) error {
	var body string
	if err := cp.get(url+"/healthz?verbose", "", &body); err != nil {
		return err
	}
	var missing []string
	for _, name := range requiredControllers {
		if !strings.Contains(body, "[+]"+name+" ok") {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("/healthz?verbose does not list controllers %s as ok", strings.Join(missing, ", "))
	}
	if err := cp.get(cp.apiURL+"/api/v1/namespaces/default/serviceaccounts/default", cp.files.token, nil); err != nil {
		return fmt.Errorf("ServiceAccount default/default (made by %s): %w", names.ServiceAccountController, err)
	}
	return nil
}

// get requires 200 from url, with a bearer token if one is given, and returns the
// body in body if it is not nil.
func (cp *controlPlane) get(url, token string, body *string) error {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := cp.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s: %s", url, resp.Status, strings.TrimSpace(string(b)))
	}
	if body != nil {
		*body = string(b)
	}
	return nil
}

// errStopping ends a wait because the control plane is being stopped.
var errStopping = errors.New("stopping")

// run waits for the API server, starts both components, waits until they are ready
// and then calls ready with their endpoints. If that fails, or a component exits
// later, it records the error (see err) and calls shutdown.
func (cp *controlPlane) run(ready func(map[string]ComponentEndpoint) error, shutdown func()) {
	cp.shutdown = shutdown
	err := cp.waitAPIServer()
	if err == nil {
		err = cp.startAll(ready)
	}
	if err != nil && !errors.Is(err, errStopping) {
		cp.fail(err)
	}
}

func (cp *controlPlane) waitAPIServer() error {
	deadline := time.Now().Add(readyTimeout)
	for {
		if cp.isStopping() {
			return errStopping
		}
		err := cp.get(cp.apiURL+"/readyz", cp.files.token, nil)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("kube-apiserver /readyz at %s not ready within %s: %w", cp.apiURL, readyTimeout, err)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func (cp *controlPlane) startAll(ready func(map[string]ComponentEndpoint) error) error {
	start := time.Now()
	comps := cp.components()
	children := make([]*child, len(comps))
	errs := make([]error, len(comps))
	var wg sync.WaitGroup
	deadline := time.Now().Add(readyTimeout)
	for i, c := range comps {
		wg.Go(func() { children[i], errs[i] = cp.bringUp(c, deadline) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}

	endpoints := map[string]ComponentEndpoint{}
	for _, ch := range children {
		endpoints[ch.name] = ComponentEndpoint{URL: ch.url, Log: ch.log, PID: ch.cmd.Process.Pid}
		fmt.Fprintf(os.Stderr, "apiserver: kube-%s ready at %s, log %s\n", ch.name, ch.url, ch.log)
	}
	if err := ready(endpoints); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "apiserver: control plane ready, %s after the API server\n", time.Since(start).Round(100*time.Millisecond))
	// From now on, a component that exits by itself is a failure of the whole.
	for _, ch := range children {
		go func() {
			<-ch.done
			if !cp.isStopping() {
				cp.fail(fmt.Errorf("kube-%s exited: %v (see %s)", ch.name, ch.err, ch.log))
			}
		}()
	}
	return nil
}

// bringUp starts c and waits until it is ready or deadline passes; a child that
// exits while starting is started again, on another port, up to startAttempts times.
func (cp *controlPlane) bringUp(c component, deadline time.Time) (*child, error) {
	logPath := filepath.Join(cp.dir, c.name+".log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logFile.Close() // each child has its own descriptor for it
	for attempt := 1; ; attempt++ {
		ch, err := cp.start(c, logFile)
		if err != nil {
			return nil, err
		}
		err = cp.waitReady(ch, deadline)
		if err == nil {
			return ch, nil
		}
		if cp.isStopping() {
			return nil, errStopping
		}
		select {
		case <-ch.done:
			if attempt < startAttempts && time.Now().Before(deadline) {
				fmt.Fprintf(os.Stderr, "apiserver: %v; starting it again\n", err)
				continue
			}
		default:
		}
		return nil, err
	}
}

// start starts c on a free port, its output appended to logFile.
func (cp *controlPlane) start(c component, logFile *os.File) (*child, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	args := c.args(port)
	fmt.Fprintf(logFile, "=== %s %s %s\n", time.Now().Format(time.RFC3339), c.name, strings.Join(args, " "))

	cmd := exec.Command(self, append([]string{c.name}, args...)...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = childProcAttr()
	ch := &child{
		component: c,
		url:       "https://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
		log:       logFile.Name(),
		cmd:       cmd,
		done:      make(chan struct{}),
	}

	// Registered under the lock, so that stop either sees the child or prevents it.
	cp.mu.Lock()
	defer cp.mu.Unlock()
	if cp.stopping {
		return nil, errStopping
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting kube-%s: %w", c.name, err)
	}
	cp.children = append(cp.children, ch)
	go func() {
		ch.err = cmd.Wait()
		close(ch.done)
	}()
	return ch, nil
}

// waitReady polls ch until it is ready, exits or deadline passes.
func (cp *controlPlane) waitReady(ch *child, deadline time.Time) error {
	for {
		err := ch.ready(ch.url)
		if err == nil {
			return nil
		}
		select {
		case <-ch.done:
			return fmt.Errorf("kube-%s exited before it was ready: %v (see %s)", ch.name, ch.err, ch.log)
		case <-time.After(250 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("kube-%s at %s not ready within %s: %w (see %s)", ch.name, ch.url, readyTimeout, err, ch.log)
		}
	}
}

func (cp *controlPlane) isStopping() bool {
	cp.mu.Lock()
	defer cp.mu.Unlock()
	return cp.stopping
}

// fail records the first error and shuts everything down; the command then exits
// with the error (see err).
func (cp *controlPlane) fail(err error) {
	cp.mu.Lock()
	first := cp.failure == nil
	if first {
		cp.failure = err
	}
	cp.mu.Unlock()
	if first {
		fmt.Fprintln(os.Stderr, "apiserver: control plane:", err)
		cp.shutdown()
	}
}

// err is the error that made the control plane fail, if any.
func (cp *controlPlane) err() error {
	if cp == nil {
		return nil
	}
	cp.mu.Lock()
	defer cp.mu.Unlock()
	return cp.failure
}

// stop stops every child, SIGTERM first, SIGKILL after stopTimeout, and waits for
// them; no child starts afterwards. It may be called more than once, and on nil.
func (cp *controlPlane) stop() {
	if cp == nil {
		return
	}
	cp.mu.Lock()
	cp.stopping = true
	children := cp.children
	cp.mu.Unlock()

	var wg sync.WaitGroup
	for _, ch := range children {
		wg.Go(func() {
			select {
			case <-ch.done:
				return
			default:
			}
			_ = ch.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-ch.done:
				fmt.Fprintf(os.Stderr, "apiserver: kube-%s stopped\n", ch.name)
			case <-time.After(stopTimeout):
				_ = ch.cmd.Process.Kill()
				<-ch.done
				fmt.Fprintf(os.Stderr, "apiserver: kube-%s killed, %s after SIGTERM\n", ch.name, stopTimeout)
			}
		})
	}
	wg.Wait()
}
