package container

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"github.com/understudy/understudy/steps/redis"
	"net"
	"regexp"
	"strconv"
	"strings"
	"sync"
)

// Paths inside a node container.
const (
	confPath = "/etc/understudy/server.conf"
	dataPath = "/data"
)

// serverConfig renders the configuration file of a node. Only what differs
// from the server's built-in defaults is written, so the default save
// points stay in force: an upgrade must keep the data.
//
// replicaOf ("host port", or "") makes the server start as a replica, as a
// production replica whose config file names its master would.
func serverConfig(v redis.Version, port int, password, replicaOf string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Written by understudy for a %s rehearsal node; mounted read-only.\n", v)
	b.WriteString("bind 127.0.0.1\n")
	fmt.Fprintf(&b, "port %d\n", port)
	b.WriteString("protected-mode yes\n")
	b.WriteString("daemonize no\n")
	b.WriteString("logfile \"\"\n")
	fmt.Fprintf(&b, "dir %s\n", dataPath)
	if password != "" {
		fmt.Fprintf(&b, "requirepass %s\n", quoteConfigArg(password))
		fmt.Fprintf(&b, "masterauth %s\n", quoteConfigArg(password))
	}
	if replicaOf != "" {
		fmt.Fprintf(&b, "replicaof %s\n", replicaOf)
	}
	if v.DebugNeedsEnabling() {
		// 6.0 refuses unknown directives, so this is written only where
		// DEBUG exists behind a switch.
		b.WriteString("enable-debug-command yes\n")
	}
	return b.String()
}

// userConfig is the line that declares the application's ACL user: the
// node's password, every key, channel (6.2+; 6.0 has no channel
// permissions) and command. "" for no user or the default user.
func userConfig(v redis.Version, user, password string) string {
	if user == "" || user == "default" {
		return ""
	}
	pass := ">" + password
	if password == "" {
		pass = "nopass"
	}
	rules := []string{"on", pass, "~*", "+@all"}
	if v.AtLeast(6, 2) {
		rules = append(rules, "&*")
	}
	line := "user " + quoteConfigArg(user)
	for _, r := range rules {
		line += " " + quoteConfigArg(r)
	}
	return line + "\n"
}

// quoteConfigArg quotes s for a redis.conf line: a double-quoted string
// whose backslash, quote and non-printable bytes are escaped the way the
// server's parser (sdssplitargs) reads them.
func quoteConfigArg(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\' || c == '"':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20 || c >= 0x7f:
			fmt.Fprintf(&b, "\\x%02x", c)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// serverBinary is the server program of an engine, on PATH in both the
// local and the official images.
func serverBinary(e redis.Engine) string {
	if e == redis.EngineValkey {
		return "valkey-server"
	}
	return "redis-server"
}

var namePattern = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]*$`)

// checkName reports whether s can be part of a container name.
func checkName(what, s string) error {
	if !namePattern.MatchString(s) {
		return fmt.Errorf("%s %q must start with a letter or digit and contain only letters, digits, '_', '.' and '-'", what, s)
	}
	return nil
}

// randomHex returns n random bytes as 2n hex characters.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails; see crypto/rand.Read
	return hex.EncodeToString(b)
}

// NewSessionID returns a random session id for WithSession.
func NewSessionID() string { return randomHex(4) }

// freePort returns a loopback TCP port that was free a moment ago and
// that this process has not handed out before.
func freePort() (int, error) {
	const tries = 100
	for range tries {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, fmt.Errorf("find a free port: %w", err)
		}
		_, ps, _ := net.SplitHostPort(l.Addr().String())
		_ = l.Close()
		p, err := strconv.Atoi(ps)
		if err != nil {
			return 0, fmt.Errorf("find a free port: %w", err)
		}
		if reservePort(p) {
			return p, nil
		}
	}
	return 0, fmt.Errorf("find a free port: the %d ports tried were all handed out already", tries)
}

// handedOut holds the ports this process handed out (freePort,
// freeClusterPort's bus ports): once a probe's listener is closed the
// kernel may give its port to the next probe, so nodes started at once
// could otherwise get the same one, and one would answer for both.
var handedOut = struct {
	sync.Mutex
	ports map[int]bool
}{ports: map[int]bool{}}

// reservePort marks p handed out, and reports whether it was not already.
func reservePort(p int) bool {
	handedOut.Lock()
	defer handedOut.Unlock()
	if handedOut.ports[p] {
		return false
	}
	handedOut.ports[p] = true
	return true
}
