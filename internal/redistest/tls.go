package redistest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Certs is a throwaway certificate authority and what it signed, as PEM
// files in a test's temporary directory: a server certificate for
// 127.0.0.1 and "localhost" and a client certificate.
type Certs struct {
	Dir                   string
	CAFile                string
	ServerCert, ServerKey string
	ClientCert, ClientKey string
}

// NewCerts generates a CA and a server and a client certificate signed by
// it (ECDSA P-256, valid for a day) into t.TempDir().
func NewCerts(t testing.TB) *Certs {
	t.Helper()
	dir := t.TempDir()
	c := &Certs{
		Dir:        dir,
		CAFile:     filepath.Join(dir, "ca.pem"),
		ServerCert: filepath.Join(dir, "server.pem"), ServerKey: filepath.Join(dir, "server.key"),
		ClientCert: filepath.Join(dir, "client.pem"), ClientKey: filepath.Join(dir, "client.key"),
	}
	now := time.Now()
	caKey := newKey(t)
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "understudy test CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatalf("redistest: CA certificate: %v", err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatalf("redistest: CA certificate: %v", err)
	}
	writePEM(t, c.CAFile, "CERTIFICATE", caDER)

	leaf := func(serial int64, name string, usage x509.ExtKeyUsage, certFile, keyFile string) {
		key := newKey(t)
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial),
			Subject:      pkix.Name{CommonName: name},
			NotBefore:    now.Add(-time.Hour),
			NotAfter:     now.Add(24 * time.Hour),
			KeyUsage:     x509.KeyUsageDigitalSignature,
			ExtKeyUsage:  []x509.ExtKeyUsage{usage},
		}
		if usage == x509.ExtKeyUsageServerAuth {
			tmpl.DNSNames = []string{"localhost"}
			tmpl.IPAddresses = []net.IP{net.ParseIP("127.0.0.1")}
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			t.Fatalf("redistest: %s certificate: %v", name, err)
		}
		keyDER, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			t.Fatalf("redistest: %s key: %v", name, err)
		}
		writePEM(t, certFile, "CERTIFICATE", der)
		writePEM(t, keyFile, "PRIVATE KEY", keyDER)
	}
	leaf(2, "localhost", x509.ExtKeyUsageServerAuth, c.ServerCert, c.ServerKey)
	leaf(3, "understudy test client", x509.ExtKeyUsageClientAuth, c.ClientCert, c.ClientKey)
	return c
}

// ClientTLS is a client configuration that trusts the CA and presents the
// client certificate.
func (c *Certs) ClientTLS(t testing.TB) *tls.Config {
	t.Helper()
	pool := x509.NewCertPool()
	ca, err := os.ReadFile(c.CAFile)
	if err != nil || !pool.AppendCertsFromPEM(ca) {
		t.Fatalf("redistest: read %s: %v", c.CAFile, err)
	}
	cert, err := tls.LoadX509KeyPair(c.ClientCert, c.ClientKey)
	if err != nil {
		t.Fatalf("redistest: client certificate: %v", err)
	}
	return &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
}

func newKey(t testing.TB) *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("redistest: key: %v", err)
	}
	return k
}

func writePEM(t testing.TB, path, typ string, der []byte) {
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatalf("redistest: %v", err)
	}
}

// TLSServer is a redis-server that accepts only TLS connections, from
// clients presenting a certificate signed by Certs' CA. Addr is its TLS
// address. (Server.Restart does not apply: it waits on a plain client.)
type TLSServer struct {
	*Server
	Certs *Certs
}

// StartTLS runs a redis-server on 127.0.0.1 with TLS only (--port 0, a free
// --tls-port, --tls-auth-clients yes) and the certificates of certs, waits
// until it answers PING over TLS, and stops it when t ends. Options are
// Start's: WithPassword for the default user, WithArgs for more, e.g. an
// ACL user: WithArgs("--user", "app", "on", ">secret", "~*", "&*", "+@all").
func StartTLS(t testing.TB, certs *Certs, opts ...Option) *TLSServer {
	t.Helper()
	c := config{password: RandomPassword()}
	for _, o := range opts {
		o(&c)
	}
	path := serverPath(t)
	port := FreePort(t)
	dir := t.TempDir()
	args := []string{
		"--bind", "127.0.0.1", "--port", "0", "--tls-port", strconv.Itoa(port),
		"--tls-cert-file", certs.ServerCert, "--tls-key-file", certs.ServerKey,
		"--tls-ca-cert-file", certs.CAFile, "--tls-auth-clients", "yes",
		"--dir", dir, "--save", "", "--appendonly", "no", "--daemonize", "no", "--logfile", filepath.Join(dir, "server.log"),
	}
	if c.password != "" {
		args = append(args, "--requirepass", c.password, "--masterauth", c.password)
	}
	args = append(args, c.args...)
	cmd := exec.Command(path, args...)
	if err := cmd.Start(); err != nil {
		t.Fatalf("redistest: start %s: %v", path, err)
	}
	s := &TLSServer{
		Server: &Server{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), Host: "127.0.0.1", Port: port, Password: c.password, Dir: dir, cmd: cmd},
		Certs:  certs,
	}
	t.Cleanup(s.Stop)
	cl := s.Client(t)
	defer cl.Close()
	waitPing(t, "TLS server", s.Addr, cl, func() string { return readLog(filepath.Join(dir, "server.log")) })
	return s
}

// Client returns a new go-redis client for the server over TLS, with the
// client certificate, as the default user; the caller closes it.
func (s *TLSServer) Client(t testing.TB) *redis.Client {
	return redis.NewClient(&redis.Options{Addr: s.Addr, Password: s.Password, TLSConfig: s.Certs.ClientTLS(t)})
}
