// front.go: the simulated clusters' API server endpoints. Every simulated AKS
// cluster shares the one real control plane; the front is what stands between it
// and a cluster's users, doing what AKS does before a request reaches the API
// server: it answers only for a cluster that exists, only from the networks the
// cluster's authorized IP ranges allow, only with a valid Entra token for the AKS
// server application, and only what Azure RBAC (or, without it, Kubernetes RBAC)
// grants the token's principal at that moment.

package e2e

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/guestbook-aks/guestbook/tests/e2e/sim"
	"github.com/guestbook-aks/guestbook/tests/stacktest"
	"github.com/guestbook-aks/guestbook/tests/tenant"
)

// Front serves https://127.0.0.1:<port>/aks/<resource group>/<cluster>/... and
// forwards what it allows to the control plane as the control plane's admin.
type Front struct {
	cloud    *sim.Cloud
	upstream *url.URL
	token    string // the control plane's admin token
	caPEM    []byte
	ln       net.Listener
	srv      *http.Server
	proxy    *httputil.ReverseProxy

	mu sync.Mutex
	// owners maps a namespace to the id of the cluster that wrote to it last:
	// the clusters share one API server (stacks use it one after another for a
	// namespace), and this is how a pod's cluster is known.
	owners map[string]string
	log    []FrontRequest
}

// FrontRequest is one request the front received and what it did with it.
type FrontRequest struct {
	At        time.Time
	ClusterID string
	Principal string
	Method    string
	Path      string // as the API server sees it, without the cluster's prefix
	Status    int    // 0: the connection was dropped
	Reason    string // why it was refused, if it was
}

// NewFront listens on a free loopback port and forwards to the control plane at
// upstream (its URL), trusting caFile and authenticating with token.
func NewFront(cloud *sim.Cloud, upstream, caFile, token string) (*Front, error) {
	u, err := url.Parse(upstream)
	if err != nil {
		return nil, fmt.Errorf("the control plane's URL %q: %w", upstream, err)
	}
	ca, err := os.ReadFile(caFile)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca) {
		return nil, fmt.Errorf("no certificate in %s", caFile)
	}
	caPEM, cert, err := stacktest.NewCertificates("simulated AKS API servers", nil, []net.IP{net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return nil, err
	}
	f := &Front{cloud: cloud, upstream: u, token: token, caPEM: caPEM, owners: map[string]string{}}
	f.proxy = &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(u)
			r.Out.URL.Path = r.In.URL.Path // set by ServeHTTP: the prefix taken off
			r.Out.URL.RawPath = ""
			r.Out.Header.Set("Authorization", "Bearer "+token)
		},
		Transport:     &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}, ForceAttemptHTTP2: false},
		FlushInterval: -1, // watches stream
	}
	f.ln, err = tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"http/1.1"}, MinVersion: tls.VersionTLS12})
	if err != nil {
		return nil, err
	}
	f.srv = &http.Server{Handler: f, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = f.srv.Serve(f.ln) }()
	return f, nil
}

// URL is the front's root: a cluster's API server is URL + sim.ClusterPath.
func (f *Front) URL() string { return "https://" + f.ln.Addr().String() }

// CA is the certificate clients of the front trust.
func (f *Front) CA() []byte { return f.caPEM }

// Close stops the front.
func (f *Front) Close() error { return f.srv.Close() }

// Owner returns the id of the cluster namespace belongs to, or "".
func (f *Front) Owner(namespace string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.owners[namespace]
}

// Requests returns what the front has received so far.
func (f *Front) Requests() []FrontRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.log)
}

// Refused returns the requests the front refused or dropped since since.
func (f *Front) Refused(since time.Time) []FrontRequest {
	var out []FrontRequest
	for _, r := range f.Requests() {
		if !r.At.Before(since) && r.Reason != "" {
			out = append(out, r)
		}
	}
	return out
}

func (f *Front) record(r FrontRequest) {
	f.mu.Lock()
	f.log = append(f.log, r)
	f.mu.Unlock()
}

// kubeStatus writes a Kubernetes Status answer.
func kubeStatus(w http.ResponseWriter, code int, reason, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"kind": "Status", "apiVersion": "v1", "metadata": map[string]any{},
		"status": "Failure", "message": message, "reason": reason, "code": code,
	})
}

// drop closes the client's connection without an answer: what a client sees of
// a cluster that is gone, or of an API server whose authorized IP ranges leave
// it out (the load balancer drops the connection).
func drop(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if c, _, err := hj.Hijack(); err == nil {
			_ = c.Close()
			return
		}
	}
	panic(http.ErrAbortHandler)
}

func (f *Front) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec := FrontRequest{At: time.Now(), Method: r.Method}
	defer func() { f.record(rec) }()
	parts := strings.SplitN(strings.TrimPrefix(r.URL.Path, "/"), "/", 4)
	if len(parts) < 3 || parts[0] != "aks" {
		rec.Status, rec.Reason = http.StatusNotFound, "not a cluster's path"
		http.NotFound(w, r)
		return
	}
	rg, name := parts[1], parts[2]
	rec.Path = "/"
	if len(parts) == 4 {
		rec.Path += parts[3]
	}
	cluster, ok, err := f.cloud.Cluster(rg, name)
	switch {
	case err != nil:
		rec.Status, rec.Reason = http.StatusInternalServerError, err.Error()
		kubeStatus(w, http.StatusInternalServerError, "InternalError", err.Error())
		return
	case !ok || cluster.ProvisioningState == sim.StateDeleting || cluster.ProvisioningState == sim.StateCreating:
		rec.Reason = "the cluster does not exist (or is not created yet): nothing answers at its address"
		drop(w)
		return
	}
	rec.ClusterID = cluster.ID
	settings, err := f.cloud.Settings()
	if err != nil {
		rec.Status, rec.Reason = http.StatusInternalServerError, err.Error()
		kubeStatus(w, http.StatusInternalServerError, "InternalError", err.Error())
		return
	}
	if why := ipRefusal(cluster, settings.ClientIP); why != "" {
		rec.Reason = why
		drop(w)
		return
	}
	principal, why := authenticate(r.Header.Get("Authorization"))
	rec.Principal = principal
	if why != "" {
		rec.Status, rec.Reason = http.StatusUnauthorized, why
		kubeStatus(w, http.StatusUnauthorized, "Unauthorized", "Unauthorized")
		return
	}
	allowed, why, err := f.authorize(cluster, principal, r.Method, rec.Path)
	if err != nil {
		rec.Status, rec.Reason = http.StatusInternalServerError, err.Error()
		kubeStatus(w, http.StatusInternalServerError, "InternalError", err.Error())
		return
	}
	if !allowed {
		rec.Status, rec.Reason = http.StatusForbidden, why
		kubeStatus(w, http.StatusForbidden, "Forbidden", fmt.Sprintf("%s %s is forbidden: User %q cannot do it: %s", r.Method, rec.Path, principal, why))
		return
	}
	ns, err := namespaceOf(r, rec.Path)
	if err != nil {
		rec.Status, rec.Reason = http.StatusBadRequest, err.Error()
		kubeStatus(w, http.StatusBadRequest, "BadRequest", err.Error())
		return
	}
	r.URL.Path = rec.Path
	sw := &statusWriter{ResponseWriter: w}
	f.proxy.ServeHTTP(sw, r)
	rec.Status = sw.status
	if ns != "" && r.Method != http.MethodGet && sw.status/100 == 2 {
		f.mu.Lock()
		f.owners[ns] = cluster.ID
		f.mu.Unlock()
	}
}

// statusWriter remembers the status the upstream answered.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

func (s *statusWriter) Flush() {
	if fl, ok := s.ResponseWriter.(http.Flusher); ok {
		fl.Flush()
	}
}

// ipRefusal returns why a client at clientIP may not reach cluster's API server,
// or "": with authorized IP ranges, only those ranges may.
func ipRefusal(cluster sim.Resource, clientIP string) string {
	access, _ := cluster.Inputs["apiServerAccessProfile"].(map[string]any)
	ranges, _ := access["authorizedIPRanges"].([]any)
	if len(ranges) == 0 {
		return ""
	}
	ip, err := netip.ParseAddr(clientIP)
	if err != nil {
		return fmt.Sprintf("the client's address %q is not an IP address", clientIP)
	}
	for _, r := range ranges {
		if p, err := netip.ParsePrefix(fmt.Sprint(r)); err == nil && p.Contains(ip) {
			return ""
		}
	}
	return fmt.Sprintf("the client's address %s is outside the API server's authorized IP ranges %v: the connection is dropped", clientIP, ranges)
}

// authenticate returns the principal of a bearer Entra token for the AKS server
// application, or why the API server refuses it (401).
func authenticate(header string) (principal, why string) {
	token, ok := strings.CutPrefix(header, "Bearer ")
	if !ok {
		return "", "no bearer token"
	}
	c, err := tenant.ParseToken(token)
	switch {
	case err != nil:
		return "", "the bearer token is not an Entra token: " + err.Error()
	case c.Audience != tenant.AKSAudience:
		return c.ObjectID, fmt.Sprintf("the token's audience is %s, not the AKS server application %s", c.Audience, tenant.AKSAudience)
	case c.TenantID != tenant.TenantID:
		return c.ObjectID, "the token is from another tenant"
	case time.Now().Unix() >= c.Expires:
		return c.ObjectID, "the token has expired"
	}
	return c.ObjectID, ""
}

// isDiscovery reports whether path is one every authenticated user may read
// (Kubernetes' system:discovery and system:public-info-viewer roles): the API
// discovery documents, OpenAPI, version and health.
func isDiscovery(method, path string) bool {
	if method != http.MethodGet {
		return false
	}
	segments := strings.Split(strings.Trim(path, "/"), "/")
	switch segments[0] {
	case "version", "healthz", "livez", "readyz", "openapi":
		return true
	case "api":
		return len(segments) <= 2
	case "apis":
		return len(segments) <= 3
	}
	return false
}

// aksRBACRoles are Azure RBAC for Kubernetes Authorization's built-in roles and
// what each allows: every verb, every verb but on roles and bindings, or reads.
var aksRBACRoles = map[string]string{
	sim.RoleAKSRBACClusterAdmin: "all", sim.RoleAKSRBACAdmin: "all",
	sim.RoleAKSRBACWriter: "write", sim.RoleAKSRBACReader: "read",
}

// authorize decides a request to cluster by principal, as AKS's authorization
// webhook decides it with Azure RBAC for Kubernetes (aadProfile.enableAzureRBAC),
// and as Kubernetes RBAC without it, where an Entra principal has no binding.
func (f *Front) authorize(cluster sim.Resource, principal, method, path string) (bool, string, error) {
	if isDiscovery(method, path) {
		return true, "", nil
	}
	aad, _ := cluster.Inputs["aadProfile"].(map[string]any)
	if azureRBAC, _ := aad["enableAzureRBAC"].(bool); !azureRBAC {
		return false, "Kubernetes RBAC decides (enableAzureRBAC is off), and no RoleBinding or ClusterRoleBinding names this Entra principal", nil
	}
	read := method == http.MethodGet || method == http.MethodHead
	rbacObject := strings.Contains(path, "/rbac.authorization.k8s.io/")
	secret := strings.Contains(path, "/secrets")
	var roles []string
	for role, may := range aksRBACRoles {
		if may == "all" || may == "write" && !rbacObject || may == "read" && read && !secret {
			roles = append(roles, role)
		}
	}
	slices.Sort(roles)
	ok, why, err := f.cloud.Holds(principal, roles, cluster.ID)
	if err != nil || ok {
		return ok, "", err
	}
	return false, "User does not have access to the resource in Azure. Update role assignment to allow access. (simulator: " + why + ")", nil
}

// namespaceOf returns the namespace a request writes to: the one in its path, or
// the one a namespace create names.
func namespaceOf(r *http.Request, path string) (string, error) {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	for i := 0; i+1 < len(parts); i++ {
		if parts[i] == "namespaces" {
			return parts[i+1], nil
		}
	}
	if r.Method != http.MethodPost || path != "/api/v1/namespaces" {
		return "", nil
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return "", err
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	var ns struct {
		Metadata struct{ Name string } `json:"metadata"`
	}
	if err := json.Unmarshal(body, &ns); err != nil {
		return "", nil // the API server will say what is wrong with it
	}
	return ns.Metadata.Name, nil
}

// Kubeconfig is a kubeconfig for the front: its root as server, its CA. The
// simulated AKS lists it, under a cluster's path, as the cluster's credentials.
func (f *Front) Kubeconfig() []byte {
	return []byte(fmt.Sprintf("apiVersion: v1\nkind: Config\nclusters:\n- name: aks\n  cluster:\n    server: %s\n    certificate-authority-data: %s\n",
		f.URL(), base64.StdEncoding.EncodeToString(f.caPEM)))
}
