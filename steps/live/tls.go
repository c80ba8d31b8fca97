package live

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/understudy/understudy/dsl"
)

// dialTimeout bounds the TCP connection and the TLS handshake to a node
// each (go-redis's default dial timeout).
const dialTimeout = 5 * time.Second

// clientOptions are the go-redis options of the controller's client to a
// node: its address, its credentials and, with a tls block, TLS.
func clientOptions(n *dsl.Node) (*goredis.Options, error) {
	o := &goredis.Options{Addr: n.Address, Username: n.Username, Password: n.Password}
	if n.TLS == nil {
		return o, nil
	}
	cfg, err := TLSConfig(n)
	if err != nil {
		return nil, err
	}
	o.TLSConfig = cfg
	o.Dialer = tlsDialer(n.Name, cfg)
	return o, nil
}

// TLSConfig is the client TLS configuration of a node's tls block, nil when
// the node has none: the server's certificate checked against ca_file (the
// system's authorities without it) for server_name (the address's host
// without it), the client certificate from cert_file and key_file, TLS 1.2
// at least. The files are read now; an error names the node and the file,
// never what the file holds.
func TLSConfig(n *dsl.Node) (*tls.Config, error) {
	t := n.TLS
	if t == nil {
		return nil, nil
	}
	cfg := &tls.Config{
		MinVersion:         tls.VersionTLS12,
		ServerName:         t.ServerName,
		InsecureSkipVerify: t.InsecureSkipVerify,
	}
	if t.CAFile != "" {
		pem, err := readTLSFile("ca_file", t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("node %q: %w", n.Name, err)
		}
		cfg.RootCAs = x509.NewCertPool()
		if !cfg.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("node %q: tls: ca_file %s holds no PEM certificate", n.Name, t.CAFile)
		}
	}
	if t.CertFile != "" || t.KeyFile != "" {
		certPEM, err := readTLSFile("cert_file", t.CertFile)
		if err != nil {
			return nil, fmt.Errorf("node %q: %w", n.Name, err)
		}
		keyPEM, err := readTLSFile("key_file", t.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("node %q: %w", n.Name, err)
		}
		// crypto/tls's errors describe the PEM blocks, never their bytes.
		cert, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			return nil, fmt.Errorf("node %q: tls: cert_file %s with key_file %s: %w", n.Name, t.CertFile, t.KeyFile, err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

// readTLSFile reads one file of a tls block; the error names the
// attribute and the path once.
func readTLSFile(attr, path string) ([]byte, error) {
	if path == "" {
		return nil, fmt.Errorf("tls: %s is not set", attr)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, fmt.Errorf("tls: read %s %s: %w", attr, path, err)
	}
	return b, nil
}

// tlsDialer connects to a node over TCP, then makes the TLS handshake. A
// failed handshake (a certificate the node's tls block does not accept)
// names the node; a failed TCP connection is returned as go-redis's own
// dialer returns it.
func tlsDialer(node string, cfg *tls.Config) func(ctx context.Context, network, addr string) (net.Conn, error) {
	d := &net.Dialer{Timeout: dialTimeout}
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		raw, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		c := cfg
		if c.ServerName == "" {
			host, _, err := net.SplitHostPort(addr)
			if err != nil {
				host = addr
			}
			c = cfg.Clone()
			c.ServerName = host
		}
		conn := tls.Client(raw, c)
		hctx, cancel := context.WithTimeout(ctx, dialTimeout)
		defer cancel()
		if err := conn.HandshakeContext(hctx); err != nil {
			_ = raw.Close()
			return nil, fmt.Errorf("node %q: tls handshake with %s: %w", node, addr, err)
		}
		return conn, nil
	}
}
