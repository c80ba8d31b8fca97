package proxy

// class is what a command means for the proxy's bookkeeping of a client
// connection: whether it changes connection state, and whether that state can
// be replayed on a new backend connection.
type class uint8

const (
	classPlain     class = iota // no connection state
	classSession                // replayable state: HELLO, AUTH, SELECT, CLIENT SETNAME ...
	classStateful               // state the proxy cannot replay: CLIENT TRACKING ...
	classMulti                  // MULTI
	classEndTx                  // EXEC, DISCARD
	classWatch                  // WATCH
	classUnwatch                // UNWATCH
	classReset                  // RESET
	classStream                 // MONITOR, CLIENT REPLY, SSUBSCRIBE: not one reply per command
	classSubscribe              // SUBSCRIBE, PSUBSCRIBE, UNSUBSCRIBE, PUNSUBSCRIBE: not one reply per command, replayable
	classPing                   // PING, QUIT: no state; what a subscriber may send besides (un)subscribing
	classPublish                // PUBLISH, scripts and functions: may send a message to subscribers
	classBlocking               // BLPOP, XREAD BLOCK ...: may wait for a write that never comes
)

// classify names the class of a command from its first two arguments.
func classify(name, sub []byte) class {
	switch {
	case name == nil:
		return classPlain
	case eq(name, "HELLO"), eq(name, "AUTH"), eq(name, "SELECT"),
		eq(name, "READONLY"), eq(name, "READWRITE"):
		return classSession
	case eq(name, "MULTI"):
		return classMulti
	case eq(name, "EXEC"), eq(name, "DISCARD"):
		return classEndTx
	case eq(name, "WATCH"):
		return classWatch
	case eq(name, "UNWATCH"):
		return classUnwatch
	case eq(name, "RESET"):
		return classReset
	case eq(name, "SUBSCRIBE"), eq(name, "PSUBSCRIBE"), eq(name, "UNSUBSCRIBE"), eq(name, "PUNSUBSCRIBE"):
		return classSubscribe
	case eq(name, "SSUBSCRIBE"), eq(name, "SUNSUBSCRIBE"),
		eq(name, "MONITOR"), eq(name, "SYNC"), eq(name, "PSYNC"):
		return classStream
	case eq(name, "PING"), eq(name, "QUIT"):
		return classPing
	case eq(name, "PUBLISH"), eq(name, "SPUBLISH"), eq(name, "EVAL"), eq(name, "EVALSHA"), eq(name, "EVAL_RO"),
		eq(name, "EVALSHA_RO"), eq(name, "FCALL"), eq(name, "FCALL_RO"):
		return classPublish
	case eq(name, "CLIENT"):
		return classifyClient(sub)
	case eq(name, "BLPOP"), eq(name, "BRPOP"), eq(name, "BLMOVE"), eq(name, "BRPOPLPUSH"), eq(name, "BLMPOP"),
		eq(name, "BZPOPMIN"), eq(name, "BZPOPMAX"), eq(name, "BZMPOP"), eq(name, "WAIT"), eq(name, "WAITAOF"),
		// XREAD and XREADGROUP block only with BLOCK, which the first two
		// arguments do not always show; one that does not block is answered
		// at once anyway.
		eq(name, "XREAD"), eq(name, "XREADGROUP"):
		return classBlocking
	}
	return classPlain
}

func classifyClient(sub []byte) class {
	switch {
	case sub == nil:
		return classPlain
	case eq(sub, "SETNAME"), eq(sub, "SETINFO"), eq(sub, "NO-EVICT"), eq(sub, "NO-TOUCH"),
		eq(sub, "MAINT_NOTIFICATIONS"): // go-redis v9 sends it on connect; servers without it refuse it
		return classSession
	case eq(sub, "REPLY"):
		return classStream
	case eq(sub, "ID"), eq(sub, "INFO"), eq(sub, "LIST"), eq(sub, "GETNAME"), eq(sub, "KILL"),
		eq(sub, "PAUSE"), eq(sub, "UNPAUSE"), eq(sub, "GETREDIR"), eq(sub, "TRACKINGINFO"),
		eq(sub, "UNBLOCK"), eq(sub, "HELP"):
		return classPlain
	}
	// TRACKING, CACHING and subcommands this list does not know: assume they
	// change the connection in a way a new backend would not know.
	return classStateful
}

// eq compares an argument with an upper-case ASCII name, ignoring case.
func eq(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i, c := range b {
		if 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		}
		if c != s[i] {
			return false
		}
	}
	return true
}
