//go:build admission

package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/guestbook-aks/guestbook/tests/stacktest"
)

// TestPodSecurityAdmission sends every Kubernetes object the dev stack declares to a
// real kube-apiserver (tests/apiserver: the k8s.io/kubernetes API server with its
// default admission chain, PodSecurity among it, on an embedded etcd) and requires
// that Pod Security "restricted", which the guestbook namespace enforces, admits
// the workload:
//
//   - every object is created (201) without a Warning header; for a Deployment or
//     StatefulSet, Pod Security warns when its pod template would be rejected;
//   - a Pod built from each pod template, as its controller would build it, is
//     admitted (Pod Security enforces on Pods, so this is the proof);
//   - the same Pod with one hardening setting taken away is rejected (403, "violates
//     PodSecurity "restricted"), and the workload with such a template draws the
//     warning (dry run), so neither check above can pass vacuously.
//
// Building the API server takes a few minutes and ~3 GB of memory the first time
// (seconds once Go's build cache has it); the test then runs in seconds.
func TestPodSecurityAdmission(t *testing.T) {
	manifests, err := stackRun(t, "dev", false).Graph.Manifests()
	if err != nil {
		t.Fatal(err)
	}
	if len(manifests) < 10 {
		t.Fatalf("the dev stack declares %d Kubernetes objects, want the whole workload", len(manifests))
	}

	// The namespace comes first, and it is what makes Pod Security enforce.
	if kind, _ := manifests[0]["kind"].(string); kind != "Namespace" {
		t.Fatalf("first manifest is a %s, want the Namespace", kind)
	}
	nsName := admissionString(manifests[0], "metadata", "name")
	labels, _ := admissionGet(manifests[0], "metadata", "labels").(map[string]any)
	for _, mode := range []string{"enforce", "audit", "warn"} {
		key := "pod-security.kubernetes.io/" + mode
		if got := labels[key]; got != "restricted" {
			t.Errorf("namespace %s label %s = %v, want restricted", nsName, key, got)
		}
	}

	srv := startAdmissionServer(t)
	t.Logf("kube-apiserver %s at %s", srv.version(t), srv.url)

	// Create every object for real, namespace first. The ServiceAccount "default" is
	// what kube-controller-manager creates in every new namespace; this server runs
	// no controllers, and the ServiceAccount admission plugin rejects Pods without it.
	var templates []admissionTemplate
	for i, obj := range manifests {
		srv.mustCreate(t, obj, "")
		if i == 0 {
			srv.mustCreate(t, map[string]any{
				"apiVersion": "v1",
				"kind":       "ServiceAccount",
				"metadata":   map[string]any{"name": "default", "namespace": nsName},
			}, "")
		}
		if tmpl, ok := admissionPodTemplate(t, obj); ok {
			templates = append(templates, tmpl)
		}
	}
	t.Logf("created %d objects in namespace order, none drew a warning", len(manifests)+1)
	var kinds []string
	for _, tmpl := range templates {
		kinds = append(kinds, tmpl.owner)
	}
	if len(templates) != 2 {
		t.Fatalf("pod templates: got %q, want the guestbook Deployment and the Redis StatefulSet", kinds)
	}

	for _, tmpl := range templates {
		t.Run(strings.ReplaceAll(tmpl.owner, "/", "-"), func(t *testing.T) {
			// The real proof: Pod Security enforces on Pods.
			srv.mustCreate(t, tmpl.pod(nil), "All")

			// Negative controls: one setting weakened at a time must be refused.
			for _, c := range []struct {
				name   string
				weaken func(pod map[string]any)
				check  string // what the rejection must name
			}{
				{"no runAsNonRoot", func(pod map[string]any) {
					admissionEachSecurityContext(pod, func(sc map[string]any) { delete(sc, "runAsNonRoot") })
				}, "runAsNonRoot"},
				{"allowPrivilegeEscalation", func(pod map[string]any) {
					admissionFirstSecurityContext(pod)["allowPrivilegeEscalation"] = true
				}, "allowPrivilegeEscalation"},
				{"capabilities not dropped", func(pod map[string]any) {
					delete(admissionMap(admissionFirstSecurityContext(pod), "capabilities"), "drop")
				}, "unrestricted capabilities"},
			} {
				t.Run(c.name, func(t *testing.T) {
					pod := tmpl.pod(c.weaken)
					resp := srv.create(t, pod, "All")
					if resp.code != http.StatusForbidden {
						t.Fatalf("Pod %s: got %d, want 403 from Pod Security\n%s", c.name, resp.code, resp.body)
					}
					msg := resp.status().Message
					if !strings.Contains(msg, `violates PodSecurity "restricted`) || !strings.Contains(msg, c.check) {
						t.Errorf("Pod %s: rejected with %q, want it to violate PodSecurity \"restricted\" for %s", c.name, msg, c.check)
					}
				})
			}

			// And the warning on workload objects, which the creates above required
			// to be absent, is one this client would have seen: the same workload
			// with a weakened template draws it.
			weak := admissionCopy(tmpl.object).(map[string]any)
			admissionMap(weak, "metadata")["name"] = tmpl.name + "-weakened"
			admissionFirstSecurityContext(admissionGet(weak, "spec", "template").(map[string]any))["allowPrivilegeEscalation"] = true
			resp := srv.create(t, weak, "All")
			if resp.code != http.StatusCreated {
				t.Fatalf("dry-run %s with a weakened template: got %d, want 201\n%s", tmpl.owner, resp.code, resp.body)
			}
			warned := false
			for _, w := range resp.warnings {
				warned = warned || strings.Contains(admissionWarningText(w), `would violate PodSecurity "restricted`)
			}
			if !warned {
				t.Errorf("dry-run %s with a weakened template: warnings %q, want one that it would violate PodSecurity \"restricted\"", tmpl.owner, resp.warnings)
			}
		})
	}
}

// admissionTemplate is a workload's pod template.
type admissionTemplate struct {
	owner     string // Kind/name
	namespace string
	name      string
	template  map[string]any
	object    map[string]any // the workload itself
	// claims are the StatefulSet's volumeClaimTemplates' names.
	claims []string
}

// admissionPodTemplate returns the pod template of a Deployment or StatefulSet.
func admissionPodTemplate(t *testing.T, obj map[string]any) (admissionTemplate, bool) {
	t.Helper()
	kind, _ := obj["kind"].(string)
	if kind != "Deployment" && kind != "StatefulSet" {
		return admissionTemplate{}, false
	}
	name := admissionString(obj, "metadata", "name")
	tmpl, ok := admissionGet(obj, "spec", "template").(map[string]any)
	if !ok {
		t.Fatalf("%s %s has no spec.template", kind, name)
	}
	at := admissionTemplate{
		owner:     kind + "/" + name,
		namespace: admissionString(obj, "metadata", "namespace"),
		name:      name,
		template:  tmpl,
		object:    obj,
	}
	claims, _ := admissionGet(obj, "spec", "volumeClaimTemplates").([]any)
	for _, c := range claims {
		if m, ok := c.(map[string]any); ok {
			at.claims = append(at.claims, admissionString(m, "metadata", "name"))
		}
	}
	return at, true
}

// pod builds the Pod the workload's controller would create from the template (the
// StatefulSet controller adds a volume per claim template), with weaken applied.
func (at admissionTemplate) pod(weaken func(pod map[string]any)) map[string]any {
	tmpl := admissionCopy(at.template).(map[string]any)
	meta, _ := tmpl["metadata"].(map[string]any)
	if meta == nil {
		meta = map[string]any{}
	}
	meta["name"] = at.name + "-admission-check"
	meta["namespace"] = at.namespace
	spec, _ := tmpl["spec"].(map[string]any)
	for _, claim := range at.claims {
		volumes, _ := spec["volumes"].([]any)
		spec["volumes"] = append(volumes, map[string]any{
			"name":                  claim,
			"persistentVolumeClaim": map[string]any{"claimName": claim + "-" + at.name + "-0"},
		})
	}
	pod := map[string]any{"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec}
	if weaken != nil {
		weaken(pod)
	}
	return pod
}

// admissionEachSecurityContext calls f with the pod's and every container's security
// context that exists.
func admissionEachSecurityContext(pod map[string]any, f func(sc map[string]any)) {
	spec, _ := pod["spec"].(map[string]any)
	if sc, ok := spec["securityContext"].(map[string]any); ok {
		f(sc)
	}
	for _, list := range []string{"initContainers", "containers"} {
		cs, _ := spec[list].([]any)
		for _, c := range cs {
			if sc, ok := admissionGet(c, "securityContext").(map[string]any); ok {
				f(sc)
			}
		}
	}
}

// admissionFirstSecurityContext returns the first container's security context,
// creating it if needed.
func admissionFirstSecurityContext(pod map[string]any) map[string]any {
	cs, _ := admissionGet(pod, "spec", "containers").([]any)
	if len(cs) == 0 {
		return map[string]any{}
	}
	c, _ := cs[0].(map[string]any)
	return admissionMap(c, "securityContext")
}

// admissionMap returns m[key] as a map, creating it if needed.
func admissionMap(m map[string]any, key string) map[string]any {
	if v, ok := m[key].(map[string]any); ok {
		return v
	}
	v := map[string]any{}
	m[key] = v
	return v
}

func admissionGet(v any, path ...string) any {
	for _, k := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

func admissionString(v any, path ...string) string {
	s, _ := admissionGet(v, path...).(string)
	return s
}

// admissionCopy deep-copies a JSON-like value.
func admissionCopy(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = admissionCopy(e)
		}
		return m
	case []any:
		s := make([]any, len(x))
		for i, e := range x {
			s[i] = admissionCopy(e)
		}
		return s
	}
	return v
}

// The API server under test.

// admissionServerDir is the nested module (its own go.mod) that builds it.
var admissionServerDir = filepath.Join("tests", "apiserver")

var (
	admissionBuildOnce sync.Once
	admissionBinary    string
	admissionBuildErr  error
)

const (
	admissionBuildTimeout = 30 * time.Minute // cold: ~5 min on 2 cores
	admissionStartTimeout = 2 * time.Minute
	admissionStopTimeout  = time.Minute
	admissionCallTimeout  = 30 * time.Second
)

// admissionServerBinary builds tests/apiserver once per test binary.
func admissionServerBinary(t *testing.T) string {
	t.Helper()
	admissionBuildOnce.Do(func() {
		// The child `go build` reads these, not the test process; reading them here
		// makes them part of `go test`'s cache key, so a cached pass is not reused
		// after the server's source or pinned versions change.
		version, err := readAdmissionServerSources()
		if err != nil {
			admissionBuildErr = err
			return
		}
		bin := filepath.Join(scratchDir, "kube-apiserver-test")
		// A cold build takes minutes; end it, readably, before `go test -timeout`
		// would panic.
		buildDeadline := time.Now().Add(admissionBuildTimeout)
		if d, ok := t.Deadline(); ok && d.Add(-time.Minute).Before(buildDeadline) {
			buildDeadline = d.Add(-time.Minute)
		}
		ctx, cancel := context.WithDeadline(context.Background(), buildDeadline)
		defer cancel()
		start := time.Now()
		// Stamp the release into the binary, as Kubernetes' own build does, so that
		// /version names what is running.
		ldflags := "-X k8s.io/component-base/version.gitVersion=" + version +
			" -X k8s.io/component-base/version.gitTreeState=clean"
		cmd := exec.CommandContext(ctx, stacktest.GoCommand(), "build", "-o", bin, "-ldflags", ldflags, ".")
		cmd.Env = childEnv()
		cmd.Dir = admissionServerDir
		out, err := cmd.CombinedOutput()
		if ctx.Err() != nil {
			err = fmt.Errorf("%w: a cold build takes ~5 min on 2 cores; give `go test` a -timeout of 30m, or build %s beforehand to fill the build cache", ctx.Err(), admissionServerDir)
		}
		if err != nil {
			admissionBuildErr = fmt.Errorf("go build in %s (%s): %w\n%s", admissionServerDir, time.Since(start).Round(time.Second), err, out)
			return
		}
		t.Logf("built the API server in %s", time.Since(start).Round(time.Second))
		admissionBinary = bin
	})
	if admissionBuildErr != nil {
		if os.Getenv("CI") == "" && admissionCannotDownload(admissionBuildErr) {
			t.Skipf("cannot build the API server here: its modules cannot be downloaded (CI never skips this):\n%v", admissionBuildErr)
		}
		t.Fatalf("building the API server: %v", admissionBuildErr)
	}
	return admissionBinary
}

// readAdmissionServerSources reads the nested module's files (stacktest.ReadSources)
// and returns the k8s.io/kubernetes version its go.mod requires.
func readAdmissionServerSources() (string, error) {
	if err := stacktest.ReadSources(admissionServerDir); err != nil {
		return "", err
	}
	gomod, err := os.ReadFile(filepath.Join(admissionServerDir, "go.mod"))
	if err != nil {
		return "", err
	}
	m := regexp.MustCompile(`(?m)^\s*k8s\.io/kubernetes (v\S+)`).FindSubmatch(gomod)
	if m == nil {
		return "", fmt.Errorf("%s/go.mod requires no k8s.io/kubernetes version", admissionServerDir)
	}
	return string(m[1]), nil
}

// admissionCannotDownload tells whether a build failed only because modules could
// not be fetched (an offline machine with an empty module cache).
func admissionCannotDownload(err error) bool {
	s := err.Error()
	for _, sign := range []string{"dial tcp", "no such host", "connection refused", "network is unreachable", "i/o timeout", "GOPROXY=off", "GOFLAGS=-mod=mod"} {
		if strings.Contains(s, sign) {
			return true
		}
	}
	return false
}

// admissionServer is a running tests/apiserver.
type admissionServer struct {
	url    string
	token  string
	client *http.Client
	// resources caches discovery: "group/version Kind" -> plural, namespaced.
	mu        sync.Mutex
	resources map[string]admissionResource
}

type admissionResource struct {
	plural     string
	namespaced bool
}

// admissionEndpoint is tests/apiserver's endpoint.json.
type admissionEndpoint struct {
	URL    string `json:"url"`
	CAFile string `json:"caFile"`
	Token  string `json:"token"`
}

// startAdmissionServer starts the API server and etcd on free loopback ports and
// waits until /readyz answers; they stop when the test ends.
func startAdmissionServer(t *testing.T) *admissionServer {
	t.Helper()
	bin := admissionServerBinary(t)
	var lastErr error
	// The ports are picked free, then bound; a second try covers a lost race.
	for attempt := 1; attempt <= 2; attempt++ {
		srv, err := launchAdmissionServer(t, bin)
		if err == nil {
			return srv
		}
		lastErr = err
		t.Logf("starting the API server (attempt %d): %v", attempt, err)
	}
	t.Fatalf("starting the API server: %v", lastErr)
	return nil
}

func launchAdmissionServer(t *testing.T, bin string) (*admissionServer, error) {
	dir := t.TempDir()
	logPath := filepath.Join(dir, "apiserver.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "-dir", filepath.Join(dir, "state"), "-stop-on-stdin-close")
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// Closing its standard input stops it, also when this process dies.
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	exited := make(chan struct{})
	var waitErr error
	go func() {
		waitErr = cmd.Wait()
		logFile.Close()
		close(exited)
	}()
	logTail := func() string {
		b, _ := os.ReadFile(logPath)
		if len(b) > 8000 {
			b = append([]byte("...\n"), b[len(b)-8000:]...)
		}
		return string(b)
	}
	stop := func() error {
		stdin.Close()
		select {
		case <-exited:
			return waitErr
		case <-time.After(admissionStopTimeout):
			_ = cmd.Process.Kill()
			<-exited
			return fmt.Errorf("did not stop within %s after its input closed; killed", admissionStopTimeout)
		}
	}
	// Stopped before t.TempDir is removed: cleanups run last-registered first.
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("stopping the API server: %v\n%s", err, logTail())
		}
	})
	fail := func(err error) (*admissionServer, error) {
		_ = stop()
		return nil, fmt.Errorf("%w\nserver log:\n%s", err, logTail())
	}

	deadline := time.Now().Add(admissionStartTimeout)
	var ep admissionEndpoint
	for {
		b, err := os.ReadFile(filepath.Join(dir, "state", "endpoint.json"))
		if err == nil {
			if err := json.Unmarshal(b, &ep); err != nil {
				return fail(fmt.Errorf("endpoint.json: %w", err))
			}
			break
		}
		select {
		case <-exited:
			return fail(fmt.Errorf("exited before it listened: %v", waitErr))
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fail(fmt.Errorf("no endpoint.json within %s", admissionStartTimeout))
		}
	}

	ca, err := os.ReadFile(ep.CAFile)
	if err != nil {
		return fail(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca) {
		return fail(fmt.Errorf("%s holds no certificate", ep.CAFile))
	}
	srv := &admissionServer{
		url:   ep.URL,
		token: ep.Token,
		client: &http.Client{
			Timeout: admissionCallTimeout,
			Transport: &http.Transport{
				TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
				Proxy:           nil, // loopback; never through a proxy from the environment
			},
		},
		resources: map[string]admissionResource{},
	}
	t.Cleanup(srv.client.CloseIdleConnections)

	var last string
	for {
		resp, err := srv.do(http.MethodGet, "/readyz", nil)
		if err == nil && resp.code == http.StatusOK {
			return srv, nil
		}
		if err != nil {
			last = err.Error()
		} else {
			last = fmt.Sprintf("%d %s", resp.code, resp.body)
		}
		select {
		case <-exited:
			return fail(fmt.Errorf("exited before it was ready: %v (last /readyz: %s)", waitErr, last))
		case <-time.After(250 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fail(fmt.Errorf("/readyz did not answer 200 within %s; last: %s", admissionStartTimeout, last))
		}
	}
}

// admissionWarningText is the text of a Warning header (299 - "text"), unescaped.
func admissionWarningText(h string) string {
	i := strings.IndexByte(h, '"')
	if i < 0 {
		return h
	}
	q := strings.TrimSuffix(h[i+1:], `"`)
	var b strings.Builder
	for j := 0; j < len(q); j++ {
		if q[j] == '\\' && j+1 < len(q) {
			j++
		}
		b.WriteByte(q[j])
	}
	return b.String()
}

// admissionResponse is an API server's answer.
type admissionResponse struct {
	code     int
	body     []byte
	warnings []string
}

// status decodes a metav1.Status body.
func (r admissionResponse) status() (s struct {
	Message string `json:"message"`
	Reason  string `json:"reason"`
}) {
	_ = json.Unmarshal(r.body, &s)
	return s
}

func (s *admissionServer) do(method, path string, body []byte) (admissionResponse, error) {
	ctx, cancel := context.WithTimeout(context.Background(), admissionCallTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, s.url+path, bytes.NewReader(body))
	if err != nil {
		return admissionResponse{}, err
	}
	req.Header.Set("Authorization", "Bearer "+s.token)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return admissionResponse{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return admissionResponse{}, err
	}
	return admissionResponse{code: resp.StatusCode, body: b, warnings: resp.Header.Values("Warning")}, nil
}

func (s *admissionServer) version(t *testing.T) string {
	t.Helper()
	resp, err := s.do(http.MethodGet, "/version", nil)
	if err != nil || resp.code != http.StatusOK {
		t.Fatalf("GET /version: %v %d %s", err, resp.code, resp.body)
	}
	var v struct{ GitVersion string }
	if err := json.Unmarshal(resp.body, &v); err != nil {
		t.Fatalf("GET /version: %v\n%s", err, resp.body)
	}
	return v.GitVersion
}

// create POSTs obj to its collection; dryRun is "" or "All".
func (s *admissionServer) create(t *testing.T, obj map[string]any, dryRun string) admissionResponse {
	t.Helper()
	path, err := s.collection(obj)
	if err != nil {
		t.Fatal(err)
	}
	if dryRun != "" {
		path += "?" + url.Values{"dryRun": {dryRun}}.Encode()
	}
	body, err := json.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := s.do(http.MethodPost, path, body)
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	return resp
}

// mustCreate creates obj and requires 201 and no warning.
func (s *admissionServer) mustCreate(t *testing.T, obj map[string]any, dryRun string) {
	t.Helper()
	resp := s.create(t, obj, dryRun)
	what := fmt.Sprintf("%s %s/%s", obj["kind"], admissionString(obj, "metadata", "namespace"), admissionString(obj, "metadata", "name"))
	if dryRun != "" {
		what += " (dryRun=" + dryRun + ")"
	}
	if resp.code != http.StatusCreated {
		j, _ := json.MarshalIndent(obj, "", "  ")
		t.Fatalf("creating %s: got %d, want 201\nresponse: %s\nobject: %s", what, resp.code, resp.body, j)
	}
	for _, w := range resp.warnings {
		t.Errorf("creating %s: got warning %q, want none", what, admissionWarningText(w))
	}
}

// collection is the REST path of obj's collection, found through discovery.
func (s *admissionServer) collection(obj map[string]any) (string, error) {
	apiVersion, _ := obj["apiVersion"].(string)
	kind, _ := obj["kind"].(string)
	prefix := "/apis/" + apiVersion
	if !strings.Contains(apiVersion, "/") {
		prefix = "/api/" + apiVersion
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	key := apiVersion + " " + kind
	res, ok := s.resources[key]
	if !ok {
		resp, err := s.do(http.MethodGet, prefix, nil)
		if err != nil {
			return "", fmt.Errorf("discovery of %s: %w", apiVersion, err)
		}
		if resp.code != http.StatusOK {
			return "", fmt.Errorf("discovery of %s: got %d, want 200\n%s", apiVersion, resp.code, resp.body)
		}
		var list struct {
			Resources []struct {
				Name       string `json:"name"`
				Namespaced bool   `json:"namespaced"`
				Kind       string `json:"kind"`
			} `json:"resources"`
		}
		if err := json.Unmarshal(resp.body, &list); err != nil {
			return "", fmt.Errorf("discovery of %s: %w", apiVersion, err)
		}
		for _, r := range list.Resources {
			if !strings.Contains(r.Name, "/") { // not a subresource
				s.resources[apiVersion+" "+r.Kind] = admissionResource{plural: r.Name, namespaced: r.Namespaced}
			}
		}
		if res, ok = s.resources[key]; !ok {
			return "", errors.New("the API server serves no " + key)
		}
	}
	if !res.namespaced {
		return prefix + "/" + res.plural, nil
	}
	ns := admissionString(obj, "metadata", "namespace")
	if ns == "" {
		return "", fmt.Errorf("%s %s has no namespace", kind, admissionString(obj, "metadata", "name"))
	}
	return prefix + "/namespaces/" + url.PathEscape(ns) + "/" + res.plural, nil
}
