package rehearsal

import (
	"fmt"
	"net/url"
	"os"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/understudy/understudy/dsl"
	"github.com/understudy/understudy/steps/redact"
)

// credentials is how every node of a rehearsal authenticates clients: one
// password for all of them (the endpoint moves the application's
// connections, with their AUTH, from node to node, and the nodes
// replicate with it), and the ACL user the runbook's nodes name, if any.
type credentials struct {
	password string
	// user is the runbook's username ("" or "default": the default user
	// only); every node gets it, with the password and every permission.
	user string
	// source says where the password came from, for the log; never the
	// password itself.
	source string
}

// chooseCredentials picks the rehearsal's credentials, first that applies:
//
//  1. opts.Password, when the caller sets one;
//  2. the runbook's own: the password its nodes resolve to
//     (password = env("REDIS_PASSWORD") with REDIS_PASSWORD set), which
//     must be the same on every node that resolves one;
//  3. $UNDERSTUDY_REHEARSAL_PASSWORD;
//  4. a random password.
//
// The username is the one the nodes resolve to, the same on every node
// that has one. The runbook's own values are refused (diagnostics at the
// node's attribute) when nodes disagree or when a password is too short to
// be redacted from the outputs.
func chooseCredentials(rb *dsl.Runbook, opts Options) (credentials, hcl.Diagnostics) {
	pw, pwNode, diags := runbookCredential(rb, "password", func(n *dsl.Node) (string, hcl.Range) { return n.Password, n.PasswordRange })
	user, _, uDiags := runbookCredential(rb, "username", func(n *dsl.Node) (string, hcl.Range) { return n.Username, n.UsernameRange })
	diags = append(diags, uDiags...)
	if pw != "" && len(pw) < redact.MinLen {
		n := rb.Nodes[pwNode]
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Password too short for a rehearsal",
			Detail:   fmt.Sprintf("Node %q's password has fewer than %d bytes: a rehearsal could not redact it from its outputs. Use a longer one, or leave it unset for $%s or a random one.", pwNode, redact.MinLen, PasswordEnv),
			Subject:  n.PasswordRange.Ptr(),
		})
	}
	c := credentials{user: user}
	switch {
	case opts.Password != "":
		c.password, c.source = opts.Password, "the caller's"
	case pw != "":
		c.password, c.source = pw, fmt.Sprintf("the runbook's (node.%s.password)", pwNode)
	case os.Getenv(PasswordEnv) != "":
		c.password, c.source = os.Getenv(PasswordEnv), "$"+PasswordEnv
	default:
		c.password, c.source = randomHex(16), "random"
	}
	return c, diags
}

// checkCredentials is the part of CheckRehearsable about credentials.
func checkCredentials(rb *dsl.Runbook) hcl.Diagnostics {
	_, diags := chooseCredentials(rb, Options{Password: "unused"})
	return diags
}

// runbookCredential returns the value the data nodes resolve an attribute
// to (in node-name order) and the first node that set it; nodes whose
// value is not resolved (an unset env()) do not count, nor do sentinels: a
// sentinel block's sentinel_password is the sentinels' own, and a
// rehearsal gives its sentinels the data nodes' password (sentinel.go).
// Two nodes with different values are an error at the second one's
// attribute.
func runbookCredential(rb *dsl.Runbook, attr string, get func(*dsl.Node) (string, hcl.Range)) (value, node string, diags hcl.Diagnostics) {
	for _, name := range rb.NodeNames() {
		if rb.Nodes[name].Sentinel {
			continue
		}
		v, rng := get(rb.Nodes[name])
		if v == "" {
			continue
		}
		if value == "" {
			value, node = v, name
			continue
		}
		if v != value {
			_, first := get(rb.Nodes[node])
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Nodes with different " + attr + "s",
				Detail: fmt.Sprintf("Node %q's %s differs from node %q's (%s). A rehearsal gives every node the same credentials: the endpoint moves the application's connections, with their AUTH, from one node to the other, and the nodes replicate with them. Use one %s for all nodes in the rehearsal, or leave it unresolved (env() of an unset variable) to get $%s or a random password.",
					name, attr, node, first, attr, PasswordEnv),
				Subject: rng.Ptr(),
			})
		}
	}
	return value, node, diags
}

// addSecrets adds the password to the run's secrets in every form a
// program may print it: as is (redact adds its quoted and JSON forms) and
// escaped inside a URL's user information. $UNDERSTUDY_REHEARSAL_PASSWORD
// is a secret too, also when the runbook's own password won over it.
func (c credentials) addSecrets(s *redact.Secrets) {
	for _, pw := range []string{c.password, os.Getenv(PasswordEnv)} {
		if pw != "" {
			s.Add(pw, url.QueryEscape(pw), url.PathEscape(pw), strings.TrimPrefix(url.UserPassword("", pw).String(), ":"))
		}
	}
}
