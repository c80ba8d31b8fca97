package redis

import "maps"

// Sim is the state of a deployment as a runbook's steps would leave it,
// walked without a server: each node's version (from the rehearsal blocks)
// and which node each replica follows. Static checks (a replica that cannot
// read its master's RDB, the point of no return) and plan descriptions read
// it; each step kind advances it as its step would change the servers.
type Sim struct {
	versions map[string]Version
	masters  map[string]string
}

// NewSim starts a walk with the nodes' versions; nodes without a known
// version are simply absent.
func NewSim(versions map[string]Version) *Sim {
	return &Sim{versions: maps.Clone(versions), masters: map[string]string{}}
}

// Version is the node's version at this point of the walk.
func (s *Sim) Version(node string) (Version, bool) {
	v, ok := s.versions[node]
	return v, ok
}

// SetVersion records that node now runs v.
func (s *Sim) SetVersion(node string, v Version) {
	if s.versions == nil {
		s.versions = map[string]Version{}
	}
	s.versions[node] = v
}

// Follow records that replica now replicates from master.
func (s *Sim) Follow(replica, master string) {
	if s.masters == nil {
		s.masters = map[string]string{}
	}
	s.masters[replica] = master
}

// Detach records that node no longer replicates from anyone.
func (s *Sim) Detach(node string) { delete(s.masters, node) }

// MasterOf is the node node follows, "" for a master.
func (s *Sim) MasterOf(node string) string { return s.masters[node] }

// Switch records that the master role moved from from to to: to follows
// no one, and from and every other replica of from follow to.
func (s *Sim) Switch(from, to string) {
	s.Detach(to)
	for n, m := range s.masters {
		if m == from {
			s.masters[n] = to
		}
	}
	s.Follow(from, to)
}
