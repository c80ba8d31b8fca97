package dsl

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// blockTLS is a node's tls block.
const blockTLS = "tls"

// nodeTLSSchema is the body of a node's tls block.
var nodeTLSSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "ca_file"},
		{Name: "cert_file"},
		{Name: "key_file"},
		{Name: "server_name"},
		{Name: "insecure_skip_verify"},
	},
}

// NodeTLS is the tls block of a node: how the live backend (plan --out,
// apply) reaches a server that only speaks TLS, or that wants a client
// certificate:
//
//	node "old" {
//	  address  = "redis-1.internal:6380"
//	  username = "understudy"
//	  password = file("/etc/understudy/redis-password")
//	  tls {
//	    ca_file     = "/etc/understudy/ca.pem"
//	    cert_file   = "/etc/understudy/client.pem"
//	    key_file    = "/etc/understudy/client.key"
//	    server_name = "redis-1.internal"
//	  }
//	}
//
// A rehearsal ignores the block: its containers speak plain TCP, so the
// certificates are first used by apply.
//
// The files are read when the first connection to the node is made, not
// when the runbook loads; a relative path is relative to the runbook's
// directory and is stored here joined with it.
type NodeTLS struct {
	// CAFile holds the PEM certificates of the authorities the server's
	// certificate must chain to; "" trusts the system's.
	CAFile string
	// CertFile and KeyFile are the client's certificate and its private
	// key (PEM), for servers with tls-auth-clients; both or neither.
	CertFile, KeyFile string
	// ServerName is the name the server's certificate must carry; "" uses
	// the host of the node's address.
	ServerName string
	// InsecureSkipVerify accepts any server certificate. Loading warns
	// about it.
	InsecureSkipVerify bool
	DeclRange          hcl.Range
}

func (r *Runbook) decodeNodeTLSBlock(node string, b *hcl.Block) (*NodeTLS, hcl.Diagnostics) {
	t := &NodeTLS{DeclRange: b.DefRange}
	content, diags := b.Body.Content(nodeTLSSchema)
	dst := map[string]*string{"ca_file": &t.CAFile, "cert_file": &t.CertFile, "key_file": &t.KeyFile, "server_name": &t.ServerName}
	for _, attr := range sortedAttributes(content.Attributes) {
		if attr.Name == "insecure_skip_verify" {
			v, vDiags := r.staticValue(attr.Expr, cty.Bool, "The tls insecure_skip_verify of a node")
			diags = append(diags, vDiags...)
			if vDiags.HasErrors() || !v.IsKnown() || v.IsNull() || v.False() {
				continue
			}
			t.InsecureSkipVerify = true
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagWarning,
				Summary:  "Server certificate not verified",
				Detail: fmt.Sprintf("With insecure_skip_verify = true, understudy accepts any certificate node %q presents: "+
					"whoever can intercept the connection can read the password and the data. Give ca_file (and server_name) instead.", node),
				Subject: attr.Expr.Range().Ptr(),
			})
			continue
		}
		s, sDiags := r.staticString(attr.Expr, fmt.Sprintf("The tls %s of a node", attr.Name))
		diags = append(diags, sDiags...)
		if attr.Name != "server_name" && s != "" && !filepath.IsAbs(s) {
			s = filepath.Join(r.Dir, s)
		}
		*dst[attr.Name] = s
	}
	cert, hasCert := content.Attributes["cert_file"]
	key, hasKey := content.Attributes["key_file"]
	switch {
	case hasCert && !hasKey:
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Client certificate without a key",
			Detail:   "cert_file is set but key_file is not: a client certificate is presented with its private key. Set key_file, or remove cert_file.",
			Subject:  cert.Range.Ptr(),
		})
	case hasKey && !hasCert:
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Client key without a certificate",
			Detail:   "key_file is set but cert_file is not: a client key is presented with its certificate. Set cert_file, or remove key_file.",
			Subject:  key.Range.Ptr(),
		})
	}
	return t, diags
}

// Text describes the block for a plan: what apply checks and presents.
// Paths are shown as resolved; nothing in the block is secret.
func (t *NodeTLS) Text() string {
	var parts []string
	switch {
	case t.InsecureSkipVerify:
		parts = append(parts, "server certificate not verified (insecure_skip_verify)")
	case t.CAFile != "":
		parts = append(parts, "server certificate checked against "+t.CAFile)
	default:
		parts = append(parts, "server certificate checked against the system's authorities")
	}
	if t.ServerName != "" && !t.InsecureSkipVerify {
		parts = append(parts, fmt.Sprintf("for %q", t.ServerName))
	}
	if t.CertFile != "" {
		parts = append(parts, "client certificate "+t.CertFile)
	}
	return "TLS, " + strings.Join(parts, ", ")
}

// TLSNotes says, for a plan, how apply connects to each node with a tls
// block and that a rehearsal does not: its containers speak plain TCP.
func (r *Runbook) TLSNotes() []string {
	var out []string
	for _, name := range r.NodeNames() {
		if t := r.Nodes[name].TLS; t != nil {
			out = append(out, fmt.Sprintf("node %s: apply connects with %s; a rehearsal ignores the tls block (its containers speak plain TCP)", name, t.Text()))
		}
	}
	return out
}
