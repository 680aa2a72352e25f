// Command apiserver runs a real Kubernetes API server for tests: the kube-apiserver
// of k8s.io/kubernetes (the code of the release binary, built in, with its default
// admission plugins, PodSecurity among them) backed by an embedded etcd, both on
// loopback, with all state in one directory; with -control-plane, also the
// kube-controller-manager and kube-scheduler of the same release, so that
// Deployments get ReplicaSets and Pods, Pods get nodes and namespaces get deleted.
//
//	apiserver -dir DIR [-control-plane] [-stop-on-stdin-close] [-- extra kube-apiserver flags]
//
// It generates a serving CA and certificate, a service-account signing key, an admin
// bearer token (group system:masters) and DIR/admin.kubeconfig that uses them, starts
// etcd, writes DIR/endpoint.json (see Endpoint) and then runs kube-apiserver until
// SIGINT or SIGTERM, or, with -stop-on-stdin-close, until its standard input is
// closed (so it never outlives a test that dies). It then stops the API server, then
// etcd, and exits. The caller polls /readyz at Endpoint.URL to know when it can serve.
//
// With -control-plane, once the API server is ready it starts kube-controller-manager
// (every controller enabled by default; see requiredControllers) and kube-scheduler,
// both with DIR/admin.kubeconfig and without leader election, each as a child process
// running this same binary (the components register global metrics and flags, so one
// process cannot hold two), logging to DIR/controller-manager.log and
// DIR/scheduler.log. When both are healthy it rewrites endpoint.json with
// controlPlaneReady true and their endpoints; the caller waits for that instead of
// /readyz. If the API server or a component is not ready within 2 minutes, or a
// component exits, everything stops and the command fails, naming what it awaited.
// On shutdown the components are stopped first; they also get SIGTERM if this
// process dies.
//
// Build it as admission_test.go does, with
// -ldflags "-X k8s.io/component-base/version.gitVersion=v1.X.Y", so that /version
// names the release: clients such as pulumi-kubernetes read it.
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
	"os/signal"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
	genericapiserver "k8s.io/apiserver/pkg/server"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
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
	// Kubeconfig is the absolute path of a kubeconfig file with URL, CAFile and Token.
	Kubeconfig string `json:"kubeconfig"`
	// ControlPlaneReady is true, with -control-plane only, once kube-controller-manager
	// and kube-scheduler are healthy (the API server is then ready too).
	ControlPlaneReady bool `json:"controlPlaneReady,omitempty"`
	// Components are, with -control-plane and once ControlPlaneReady, the running
	// components by name: "controller-manager" and "scheduler".
	Components map[string]ComponentEndpoint `json:"components,omitempty"`
}

func main() {
	// A child started by -control-plane: its first argument names the component.
	if code, ok := runComponent(os.Args[1:]); ok {
		os.Exit(code)
	}
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "apiserver:", err)
		os.Exit(1)
	}
}

func run() error {
	dir := flag.String("dir", "", "directory for etcd's data, the generated keys and endpoint.json (required)")
	stopOnStdin := flag.Bool("stop-on-stdin-close", false, "shut down when standard input is closed")
	withControlPlane := flag.Bool("control-plane", false, "also run kube-controller-manager and kube-scheduler; endpoint.json says controlPlaneReady when they are")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: %s -dir DIR [-control-plane] [-stop-on-stdin-close] [-- kube-apiserver flags]\n", os.Args[0])
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
		URL:        "https://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
		CAFile:     files.caCert,
		Token:      files.token,
		Etcd:       etcdURL,
		PID:        os.Getpid(),
		Kubeconfig: filepath.Join(abs, "admin.kubeconfig"),
	}
	if err := writeKubeconfig(ep.Kubeconfig, ep.URL, ep.CAFile, ep.Token); err != nil {
		return err
	}
	endpointPath := filepath.Join(abs, "endpoint.json")
	if err := writeJSON(endpointPath, ep); err != nil {
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

	// Made first: it installs the signal handler that RequestShutdown signals.
	cmd := app.NewAPIServerCommand()
	cmd.SetArgs(args)

	var cp *controlPlane // nil without -control-plane; its methods accept nil
	if *withControlPlane {
		if cp, err = newControlPlane(abs, files, ep.Kubeconfig, ep.URL); err != nil {
			return err
		}
		// Deferred after etcd, so run before it: the components stop first.
		defer cp.stop()
	}
	// shutdown stops the components, if any, then asks the API server to stop.
	var shutdownOnce sync.Once
	shutdown := func() {
		shutdownOnce.Do(func() {
			cp.stop()
			// The command's context is cancelled by its signal handler.
			genericapiserver.RequestShutdown()
		})
	}
	if cp != nil {
		// Take SIGINT and SIGTERM from the API server's handler so that the
		// components stop before it does; a second signal exits at once, as there.
		signal.Reset(syscall.SIGINT, syscall.SIGTERM)
		signals := make(chan os.Signal, 2)
		signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM)
		go func() {
			sig := <-signals
			fmt.Fprintf(os.Stderr, "apiserver: %s, shutting down\n", sig)
			go shutdown()
			<-signals
			os.Exit(1)
		}()
	}

	if *stopOnStdin {
		go func() {
			_, _ = io.Copy(io.Discard, os.Stdin)
			fmt.Fprintln(os.Stderr, "apiserver: standard input closed, shutting down")
			shutdown()
		}()
	}

	if cp != nil {
		go cp.run(func(components map[string]ComponentEndpoint) error {
			ready := ep
			ready.ControlPlaneReady = true
			ready.Components = components
			return writeJSON(endpointPath, ready)
		}, shutdown)
	}

	err = cmd.Execute()
	fmt.Fprintln(os.Stderr, "apiserver: kube-apiserver stopped")
	cp.stop()
	return errors.Join(err, cp.err())
}

// writeKubeconfig writes a kubeconfig file for the admin token at server.
func writeKubeconfig(path, server, caFile, token string) error {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["apiserver-test"] = &clientcmdapi.Cluster{Server: server, CertificateAuthority: caFile}
	cfg.AuthInfos["admin"] = &clientcmdapi.AuthInfo{Token: token}
	cfg.Contexts["admin"] = &clientcmdapi.Context{Cluster: "apiserver-test", AuthInfo: "admin"}
	cfg.CurrentContext = "admin"
	return clientcmd.WriteToFile(*cfg, path)
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
