package container

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/understudy/understudy/steps/redis"
)

// sentinelConfName is the sentinel's configuration file in its data
// directory, mounted read-write at /data: the sentinel rewrites it with its
// state (a temporary file renamed over it from 7.0), so the directory is
// mounted, never the file alone.
const sentinelConfName = "sentinel.conf"

// sentinelConfPath is the configuration file inside a sentinel container.
const sentinelConfPath = dataPath + "/" + sentinelConfName

// SentinelMonitor is the master a rehearsal sentinel monitors and the
// settings of that monitoring, written into the sentinel's configuration
// as "sentinel monitor" and the per-master "sentinel ..." lines.
type SentinelMonitor struct {
	// MasterName is the name clients ask the sentinels for ("mymaster").
	MasterName string
	// MasterHost is the master's address; empty means 127.0.0.1, where
	// every rehearsal node listens.
	MasterHost string
	// MasterPort is the master's port.
	MasterPort int
	// Quorum is how many sentinels must agree the master is down.
	Quorum int
	// DownAfter is down-after-milliseconds; zero keeps the server's
	// default (30 s).
	DownAfter time.Duration
	// FailoverTimeout is failover-timeout; zero keeps the server's default
	// (180 s).
	FailoverTimeout time.Duration
	// ParallelSyncs is how many replicas are re-pointed at a time during a
	// failover; zero keeps the server's default (1).
	ParallelSyncs int
	// AuthPass is the data nodes' password (sentinel auth-pass); empty
	// when they have none.
	AuthPass string
	// AuthUser is the ACL user the sentinel authenticates to the data nodes
	// as (sentinel auth-user; 6.0.16 has it too, checked); empty for the
	// default user.
	AuthUser string
}

// masterNamePattern is what a master name may contain: it is a word of
// the sentinel's configuration and of SENTINEL commands.
var masterNamePattern = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.:-]*$`)

// withDefaults fills in the master's host.
func (m SentinelMonitor) withDefaults() SentinelMonitor {
	if m.MasterHost == "" {
		m.MasterHost = "127.0.0.1"
	}
	return m
}

// check reports the first setting a sentinel would refuse or that would
// not mean what it says.
func (m SentinelMonitor) check() error {
	if !masterNamePattern.MatchString(m.MasterName) {
		return fmt.Errorf("master name %q must start with a letter or digit and contain only letters, digits, '_', '.', ':' and '-'", m.MasterName)
	}
	if strings.ContainsAny(m.MasterHost, " \t\r\n\"'\\") {
		return fmt.Errorf("master host %q is not a host name or address", m.MasterHost)
	}
	if m.MasterPort <= 0 || m.MasterPort > 65535 {
		return fmt.Errorf("master port %d is out of range", m.MasterPort)
	}
	if err := checkSentinelPassword("auth-pass (the data nodes' password)", m.AuthPass); err != nil {
		return err
	}
	if err := checkSentinelPassword(fmt.Sprintf("auth-user %q", m.AuthUser), m.AuthUser); err != nil {
		return err
	}
	if m.Quorum <= 0 {
		return fmt.Errorf("quorum %d must be at least 1", m.Quorum)
	}
	if m.ParallelSyncs < 0 {
		return fmt.Errorf("parallel-syncs %d must not be negative", m.ParallelSyncs)
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"down-after", m.DownAfter}, {"failover-timeout", m.FailoverTimeout}} {
		if d.v < 0 || d.v%time.Millisecond != 0 {
			return fmt.Errorf("%s %s must be a positive whole number of milliseconds (or zero for the server's default)", d.name, d.v)
		}
	}
	return nil
}

// CheckSentinelValue reports whether RunSentinel accepts v as a sentinel's
// password, the data nodes' password (auth-pass) or the user it
// authenticates as (auth-user), so that a caller can decide before
// starting anything; see checkSentinelPassword. what names v in the error,
// which does not show v.
func CheckSentinelValue(what, v string) error {
	return checkSentinelPassword(what, v)
}

// checkSentinelPassword refuses a password that a sentinel would not read
// back from its own configuration (auth-user names are held to the same
// rule: sentinels rewrite them unquoted too). Sentinels rewrite the file
// with passwords as they are, unquoted: auth-pass on every version before
// Valkey 9.1, requirepass on 6.0; Valkey 8.1 puts requirepass in quotes
// without escaping. Measured on 6.0.16, 7.0.15, 8.0.2, Valkey 8.1.1 and
// 9.1.2: a password with a space, a quote or a backslash becomes a line
// the sentinel refuses ("Bad directive or wrong number of arguments") or
// reads as another password, at its next start. Printable ASCII without
// those characters is written and read back alike.
func checkSentinelPassword(what, pw string) error {
	for i := 0; i < len(pw); i++ {
		if c := pw[i]; c <= ' ' || c >= 0x7f || c == '"' || c == '\'' || c == '\\' {
			return fmt.Errorf("%s: a sentinel rewrites its configuration with it unquoted and would not read it back at its next start; use printable ASCII without spaces, quotes or backslashes", what)
		}
	}
	return nil
}

// sentinelConfig renders the first configuration of a sentinel: where it
// listens, its own password, how it announces itself and what it monitors.
// The sentinel adds its state (myid, epochs, known-replica,
// known-sentinel) when it rewrites the file.
//
// The sentinel listens on 127.0.0.1 and announces 127.0.0.1:port, the
// address it is reached at through host networking, so every sentinel and
// node is known by 127.0.0.1:port. Addresses only, no host names: sentinel
// resolve-hostnames (6.2+) is not needed and not written.
//
// requirepass works on every version the catalog knows, 6.0 included
// (Sentinel has it since 5.0.1). Sentinels also use it to authenticate to
// each other (6.2+ can use sentinel-pass instead), so every sentinel
// monitoring one master must have the same password.
func sentinelConfig(v redis.Version, port int, password string, m SentinelMonitor) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Written by understudy for a %s rehearsal sentinel; the sentinel rewrites it with its state.\n", v)
	b.WriteString("bind 127.0.0.1\n")
	fmt.Fprintf(&b, "port %d\n", port)
	b.WriteString("daemonize no\n")
	b.WriteString("logfile \"\"\n")
	fmt.Fprintf(&b, "dir %s\n", dataPath)
	if password != "" {
		fmt.Fprintf(&b, "requirepass %s\n", quoteConfigArg(password))
	}
	b.WriteString("sentinel announce-ip \"127.0.0.1\"\n")
	fmt.Fprintf(&b, "sentinel announce-port %d\n", port)
	fmt.Fprintf(&b, "sentinel monitor %s %s %d %d\n", m.MasterName, m.MasterHost, m.MasterPort, m.Quorum)
	if m.AuthPass != "" {
		fmt.Fprintf(&b, "sentinel auth-pass %s %s\n", m.MasterName, quoteConfigArg(m.AuthPass))
	}
	if m.AuthUser != "" {
		fmt.Fprintf(&b, "sentinel auth-user %s %s\n", m.MasterName, quoteConfigArg(m.AuthUser))
	}
	if m.DownAfter > 0 {
		fmt.Fprintf(&b, "sentinel down-after-milliseconds %s %d\n", m.MasterName, m.DownAfter.Milliseconds())
	}
	if m.FailoverTimeout > 0 {
		fmt.Fprintf(&b, "sentinel failover-timeout %s %d\n", m.MasterName, m.FailoverTimeout.Milliseconds())
	}
	if m.ParallelSyncs > 0 {
		fmt.Fprintf(&b, "sentinel parallel-syncs %s %d\n", m.MasterName, m.ParallelSyncs)
	}
	return b.String()
}

// errNoMyID is returned when a sentinel's configuration has no myid line
// yet: the sentinel writes one when it first starts.
var errNoMyID = errors.New("no \"sentinel myid\" line")

// configMyID reads the "sentinel myid" line of a sentinel configuration.
func configMyID(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 3 && strings.EqualFold(fields[0], "sentinel") && strings.EqualFold(fields[1], "myid") {
			return strings.Trim(fields[2], `"`), nil
		}
	}
	if err := sc.Err(); err != nil {
		return "", err
	}
	return "", errNoMyID
}
