package redis

import (
	"errors"
	"fmt"
)

// CheckReplication reports why a replica of version replica cannot follow a
// master of version master, or nil when it can. The rules are those of
// redis-facts.md: a replica must read the master's RDB format.
func CheckReplication(master, replica Version) error {
	mr, rr := master.RDBVersion(), replica.RDBVersion()
	switch {
	case master.Engine == EngineValkey && replica.Engine == EngineRedis:
		return fmt.Errorf("a replica on %s cannot follow a master on %s: Redis does not read Valkey's RDB format (version %d)", replica, master, mr)
	case master.Engine == EngineRedis && replica.Engine == EngineValkey && mr > 11:
		return fmt.Errorf("a replica on %s cannot follow a master on Redis %s: Redis %s writes RDB version %d, Valkey reads up to 11", replica, master, master, mr)
	case master.Engine == replica.Engine && mr > rr:
		return fmt.Errorf("a replica on %s cannot follow a master on %s: the master writes RDB version %d, the replica reads up to %d, and it would empty its dataset and retry forever; upgrade replicas first", replica, master, mr, rr)
	case master.Engine == EngineValkey && replica.Engine == EngineValkey && master.Major > replica.Major:
		return fmt.Errorf("a replica on %s cannot follow a master on %s: downgrades between Valkey majors are refused", replica, master)
	}
	return nil
}

// CheckUpgrade reports why a node of version from cannot restart as to with
// its data, or nil when it can.
func CheckUpgrade(from, to Version) error {
	if from.Engine == EngineValkey && to.Engine == EngineRedis {
		return errors.New("the RDB files Valkey writes cannot be loaded by Redis")
	}
	if from.Engine == to.Engine && from.RDBVersion() > to.RDBVersion() {
		return fmt.Errorf("%s writes RDB version %d, %s reads up to %d", from, from.RDBVersion(), to, to.RDBVersion())
	}
	if from.Engine == EngineRedis && to.Engine == EngineValkey && from.RDBVersion() > 11 {
		return fmt.Errorf("%s writes RDB version %d, Valkey reads up to 11", from, from.RDBVersion())
	}
	return nil
}
