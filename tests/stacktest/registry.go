// registry.go: a stand-in for the registries' token endpoint, reached the way the
// program reaches *.azurecr.io: through an HTTPS proxy, over TLS it trusts.

package stacktest

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/guestbook-aks/guestbook/tests/tenant"
)

// RefreshToken is what the fake registry hands out for an Entra token with the
// registry's audience.
const RefreshToken = "acr-refresh-token-issued-by-the-fake-registry"

// RefuseExchange returns why a registry at host refuses to exchange accessToken
// for a refresh token at now, or "". The registry is as strict as one under the
// built-in policy "Container registries should have ARM audience token
// authentication disabled": only a token with the registry's own audience is
// taken, so a program asking Entra for an ARM token fails here as it would there.
func RefuseExchange(grantType, accessToken, service, host string, now time.Time) string {
	if grantType != "access_token" {
		return fmt.Sprintf("unsupported grant_type %q", grantType)
	}
	if service != host {
		return fmt.Sprintf("service %q is not this registry (%s)", service, host)
	}
	c, err := tenant.ParseToken(accessToken)
	if err != nil {
		return "the access token is not an Entra token: " + err.Error()
	}
	switch {
	case c.Audience != tenant.RegistryAudience:
		return fmt.Sprintf("authentication with a token of audience %s is disabled for this registry "+
			"(ARM audience tokens are off): ask Entra for %s", c.Audience, tenant.RegistryAudience)
	case c.TenantID != tenant.TenantID:
		return "the access token is from another tenant"
	case now.Unix() >= c.Expires:
		return "the access token has expired"
	}
	return ""
}

// Exchange is one request the fake registry received at /oauth2/exchange.
type Exchange struct {
	Host                            string // the registry the program asked for (CONNECT target)
	GrantType, Service, AccessToken string
}

// FakeRegistry answers /oauth2/exchange for any *.azurecr.io host. A compiled
// program reaches it unchanged: HTTPS_PROXY sends its request through a CONNECT
// proxy here, and SSL_CERT_FILE makes it trust the certificate for *.azurecr.io.
type FakeRegistry struct {
	// Env is what to add to the program's environment to route it here.
	Env []string

	proxy, tlsServer net.Listener
	mu               sync.Mutex
	exchanges        []Exchange
	refused          []string
}

// StartFakeRegistry starts the registry and its proxy on loopback; dir receives the
// CA certificate the program must trust.
func StartFakeRegistry(dir string) (*FakeRegistry, error) {
	caPEM, serverCert, err := NewCertificates("*.azurecr.io", []string{"*.azurecr.io"}, nil)
	if err != nil {
		return nil, err
	}
	caFile := filepath.Join(dir, "fake-registry-ca.pem")
	if err := os.WriteFile(caFile, caPEM, 0o600); err != nil {
		return nil, err
	}
	f := &FakeRegistry{}
	f.tlsServer, err = tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{serverCert}})
	if err != nil {
		return nil, err
	}
	f.proxy, err = net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		f.tlsServer.Close()
		return nil, err
	}
	go func() { _ = http.Serve(f.tlsServer, http.HandlerFunc(f.serveExchange)) }()
	go f.serveProxy()
	f.Env = []string{
		"HTTPS_PROXY=http://" + f.proxy.Addr().String(),
		"NO_PROXY=",
		"SSL_CERT_FILE=" + caFile,
	}
	return f, nil
}

// Close stops the registry and the proxy.
func (f *FakeRegistry) Close() {
	f.proxy.Close()
	f.tlsServer.Close()
}

// Exchanges returns the token exchanges received.
func (f *FakeRegistry) Exchanges() []Exchange {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Exchange(nil), f.exchanges...)
}

// Refused returns the hosts the proxy refused: anything but *.azurecr.io, which a
// hermetic run must not try to reach.
func (f *FakeRegistry) Refused() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.refused...)
}

func (f *FakeRegistry) serveExchange(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/oauth2/exchange" {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	ex := Exchange{Host: r.Host, GrantType: r.PostForm.Get("grant_type"), Service: r.PostForm.Get("service"), AccessToken: r.PostForm.Get("access_token")}
	f.mu.Lock()
	f.exchanges = append(f.exchanges, ex)
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if reason := RefuseExchange(ex.GrantType, ex.AccessToken, ex.Service, strings.Split(r.Host, ":")[0], time.Now()); reason != "" {
		w.WriteHeader(http.StatusUnauthorized)
		b, _ := json.Marshal(map[string]any{"errors": []map[string]string{{"code": "UNAUTHORIZED", "message": reason}}})
		_, _ = w.Write(b)
		return
	}
	_ = json.NewEncoder(w).Encode(map[string]string{"refresh_token": RefreshToken})
}

// serveProxy answers CONNECT requests for *.azurecr.io:443 by tunnelling to the
// fake registry, and refuses everything else.
func (f *FakeRegistry) serveProxy() {
	for {
		conn, err := f.proxy.Accept()
		if err != nil {
			return
		}
		go func() {
			defer conn.Close()
			req, err := http.ReadRequest(bufio.NewReader(conn))
			if err != nil {
				return
			}
			host := req.Host
			if req.Method != http.MethodConnect || !strings.HasSuffix(host, ".azurecr.io:443") {
				f.mu.Lock()
				f.refused = append(f.refused, req.Method+" "+host)
				f.mu.Unlock()
				_, _ = io.WriteString(conn, "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
				return
			}
			upstream, err := net.Dial("tcp", f.tlsServer.Addr().String())
			if err != nil {
				_, _ = io.WriteString(conn, "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
				return
			}
			defer upstream.Close()
			_, _ = io.WriteString(conn, "HTTP/1.1 200 Connection Established\r\n\r\n")
			done := make(chan struct{}, 2)
			go func() { _, _ = io.Copy(upstream, conn); done <- struct{}{} }()
			go func() { _, _ = io.Copy(conn, upstream); done <- struct{}{} }()
			<-done
		}()
	}
}

// NewCertificates makes a throwaway CA and a server certificate signed by it, named
// name, for dnsNames and ips: what a test's TLS server serves, and what its
// clients trust (caPEM).
func NewCertificates(name string, dnsNames []string, ips []net.IP) (caPEM []byte, server tls.Certificate, err error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, tls.Certificate{}, err
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "test CA for " + name},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		IsCA:                  true,
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, tls.Certificate{}, err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, tls.Certificate{}, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: name},
		DNSNames:     dnsNames,
		IPAddresses:  ips,
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return nil, tls.Certificate{}, err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, tls.Certificate{}, err
	}
	server, err = tls.X509KeyPair(
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}),
	)
	if err != nil {
		return nil, tls.Certificate{}, fmt.Errorf("loading the certificate for %s: %w", name, err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), server, nil
}
