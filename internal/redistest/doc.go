// Package redistest starts real redis-server processes on loopback for tests.
//
// Tests that need a server call Start; the server is stopped and its
// directory removed when the test ends. The binary is redis-server from PATH
// (Debian's package; .ci/run installs it) or REDISTEST_SERVER.
package redistest
