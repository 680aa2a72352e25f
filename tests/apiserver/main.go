// Command apiserver runs a real Kubernetes API server for tests: the kube-apiserver
// of k8s.io/kubernetes (the code of the release binary, built in, with its default
// admission plugins, PodSecurity among them) backed by an embedded etcd, both on
// loopback, with all state in one directory.
//
//	apiserver -dir DIR [-stop-on-stdin-close] [-- extra kube-apiserver flags]
//
// It generates a serving CA and certificate, a service-account signing key and an
// admin bearer token (group system:masters) in DIR, starts etcd, writes
// DIR/endpoint.json (see Endpoint) and then runs kube-apiserver until SIGINT or
// SIGTERM, or, with -stop-on-stdin-close, until its standard input is closed (so
// it never outlives a test that dies). It then stops the API server, then etcd,
// and exits. The caller polls /readyz at Endpoint.URL to know when it can serve.
package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
	genericapiserver "k8s.io/apiserver/pkg/server"
	"k8s.io/kubernetes/cmd/kube-apiserver/app"
)

// Endpoint is what DIR/endpoint.json holds: how to reach the API server.
type Endpoint struct {
	// URL is the API server's base URL, https://127.0.0.1:PORT.
	URL string `json:"url"`
	// CAFile is the PEM file of the CA that signed the serving certificate.
	CAFile string `json:"caFile"`
	// Token is a bearer token of user "admin" in group system:masters.
	Token string `json:"token"`
	// Etcd is the embedded etcd's client URL.
	Etcd string `json:"etcd"`
	// PID is this process's.
	PID int `json:"pid"`
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "apiserver:", err)
		os.Exit(1)
	}
}

func run() error {
	dir := flag.String("dir", "", "directory for etcd's data, the generated keys and endpoint.json (required)")
	stopOnStdin := flag.Bool("stop-on-stdin-close", false, "shut down when standard input is closed")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: %s -dir DIR [-stop-on-stdin-close] [-- kube-apiserver flags]\n", os.Args[0])
		flag.PrintDefaults()
	}
	flag.Parse()
	if *dir == "" {
		flag.Usage()
		return errors.New("-dir is required")
	}
	abs, err := filepath.Abs(*dir)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(abs, 0o700); err != nil {
		return err
	}
	files, err := generate(abs)
	if err != nil {
		return err
	}

	etcd, etcdURL, err := startEtcd(filepath.Join(abs, "etcd"))
	if err != nil {
		return err
	}
	defer func() {
		etcd.Close()
		fmt.Fprintln(os.Stderr, "apiserver: etcd stopped")
	}()

	port, err := freePort()
	if err != nil {
		return err
	}
	ep := Endpoint{
		URL:    "https://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
		CAFile: files.caCert,
		Token:  files.token,
		Etcd:   etcdURL,
		PID:    os.Getpid(),
	}
	if err := writeJSON(filepath.Join(abs, "endpoint.json"), ep); err != nil {
		return err
	}

	args := []string{
		"--etcd-servers=" + etcdURL,
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(port),
		"--cert-dir=" + filepath.Join(abs, "certs"),
		"--tls-cert-file=" + files.servingCert,
		"--tls-private-key-file=" + files.servingKey,
		"--token-auth-file=" + files.tokens,
		"--authorization-mode=RBAC",
		"--anonymous-auth=false",
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file=" + files.saKey,
		"--service-account-signing-key-file=" + files.saKey,
		"--service-cluster-ip-range=10.0.0.0/24",
		// PodSecurity is on by default; name it so that a change of defaults
		// cannot silently turn it off.
		"--enable-admission-plugins=PodSecurity",
		// The "kubernetes" Endpoints cannot point at a loopback address.
		"--endpoint-reconciler-type=none",
		"--profiling=false",
	}
	args = append(args, flag.Args()...)

	if *stopOnStdin {
		go func() {
			_, _ = io.Copy(io.Discard, os.Stdin)
			fmt.Fprintln(os.Stderr, "apiserver: standard input closed, shutting down")
			// The command's context is cancelled by its signal handler.
			genericapiserver.RequestShutdown()
		}()
	}

	cmd := app.NewAPIServerCommand()
	cmd.SetArgs(args)
	err = cmd.Execute()
	fmt.Fprintln(os.Stderr, "apiserver: kube-apiserver stopped")
	return err
}

type generated struct {
	caCert, servingCert, servingKey, saKey, tokens, token string
}

// generate writes a CA, a serving certificate for 127.0.0.1 and localhost signed by
// it, a service-account signing key and a token file.
func generate(dir string) (generated, error) {
	g := generated{
		caCert:      filepath.Join(dir, "ca.crt"),
		servingCert: filepath.Join(dir, "serving.crt"),
		servingKey:  filepath.Join(dir, "serving.key"),
		saKey:       filepath.Join(dir, "service-account.key"),
		tokens:      filepath.Join(dir, "tokens.csv"),
	}
	now := time.Now()

	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return g, err
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "apiserver-test-ca"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return g, err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return g, err
	}

	servingKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return g, err
	}
	servingTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "kube-apiserver"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback, net.IPv4(10, 0, 0, 1)},
		DNSNames:     []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc"},
	}
	servingDER, err := x509.CreateCertificate(rand.Reader, servingTmpl, ca, &servingKey.PublicKey, caKey)
	if err != nil {
		return g, err
	}
	servingKeyDER, err := x509.MarshalPKCS8PrivateKey(servingKey)
	if err != nil {
		return g, err
	}

	saKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return g, err
	}
	saKeyDER, err := x509.MarshalPKCS8PrivateKey(saKey)
	if err != nil {
		return g, err
	}

	tok := make([]byte, 24)
	if _, err := rand.Read(tok); err != nil {
		return g, err
	}
	g.token = hex.EncodeToString(tok)

	for _, f := range []struct {
		path string
		data []byte
	}{
		{g.caCert, pemBlock("CERTIFICATE", caDER)},
		{g.servingCert, append(pemBlock("CERTIFICATE", servingDER), pemBlock("CERTIFICATE", caDER)...)},
		{g.servingKey, pemBlock("PRIVATE KEY", servingKeyDER)},
		{g.saKey, pemBlock("PRIVATE KEY", saKeyDER)},
		// token,user,uid,"group,..."
		{g.tokens, []byte(g.token + `,admin,admin,"system:masters"` + "\n")},
	} {
		if err := os.WriteFile(f.path, f.data, 0o600); err != nil {
			return g, err
		}
	}
	return g, nil
}

func pemBlock(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

// startEtcd starts a single-member etcd on two free loopback ports, retrying if a
// port was taken in between.
func startEtcd(dir string) (*embed.Etcd, string, error) {
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		clientPort, err := freePort()
		if err != nil {
			return nil, "", err
		}
		peerPort, err := freePort()
		if err != nil {
			return nil, "", err
		}
		clientURL := url.URL{Scheme: "http", Host: net.JoinHostPort("127.0.0.1", strconv.Itoa(clientPort))}
		peerURL := url.URL{Scheme: "http", Host: net.JoinHostPort("127.0.0.1", strconv.Itoa(peerPort))}

		cfg := embed.NewConfig()
		cfg.Name = "apiserver-test"
		cfg.Dir = dir
		cfg.ListenClientUrls = []url.URL{clientURL}
		cfg.AdvertiseClientUrls = []url.URL{clientURL}
		cfg.ListenPeerUrls = []url.URL{peerURL}
		cfg.AdvertisePeerUrls = []url.URL{peerURL}
		cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
		cfg.LogLevel = "error"
		// A throw-away test store: durability is not wanted, speed is.
		cfg.UnsafeNoFsync = true

		if err := os.RemoveAll(dir); err != nil {
			return nil, "", err
		}
		e, err := embed.StartEtcd(cfg)
		if err != nil {
			lastErr = err
			continue
		}
		select {
		case <-e.Server.ReadyNotify():
			return e, clientURL.String(), nil
		case err := <-e.Err():
			e.Close()
			lastErr = err
		case <-time.After(60 * time.Second):
			e.Close()
			lastErr = errors.New("etcd was not ready within 60s")
		}
	}
	return nil, "", fmt.Errorf("starting etcd: %w", lastErr)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// writeJSON writes v to path atomically, so that a reader never sees half a file.
func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
