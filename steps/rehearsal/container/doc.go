// Package container runs rehearsal nodes: Redis and Valkey servers in
// containers started through testcontainers-go, one per runbook node.
//
// A Node keeps what a real server keeps across an upgrade: its address,
// password and data directory. Replace saves the dataset, stops the
// container and starts a container of another version on the same port and
// data directory, which is how a rehearsal performs "upgrade this node".
//
// # Networking
//
// Node containers use host networking and bind 127.0.0.1:<port>. The
// controller, the traffic probe and the other nodes (REPLICAOF 127.0.0.1
// <port>) then reach a node at one address, which does not change when its
// container is replaced, and which is also the address the server sees
// itself at: what replicas, Sentinel and Cluster announce is what clients
// can dial. No published ports or container networks are involved and no
// traffic leaves the machine. This needs a local Linux Docker engine (host networking and
// bind mounts of host paths); TESTCONTAINERS_HOST_OVERRIDE is set to
// 127.0.0.1 when unset.
//
// # Configuration and secrets
//
// Each node's server.conf (bind, port, dir, requirepass, masterauth,
// enable-debug-command from 7.0) is written to a 0600 file in a temporary
// directory and mounted read-only at /etc/understudy/server.conf; the
// command line is only "redis-server /etc/understudy/server.conf", so the
// password appears neither in docker inspect nor in ps. The server's
// default save points are kept. The data directory is a host directory
// mounted at /data (WithDataDir, or a temporary one owned by the Node).
// The server runs as root inside the container with every capability
// dropped but DAC_OVERRIDE, so it can read and write these host files
// whoever owns them.
//
// # Replicas
//
// The config file is read-only, so REPLICAOF sent at run time is not
// persisted by the server itself. Stop and Replace read the role first and
// write "replicaof <master>" into the next container's config, so a replica
// that is restarted or upgraded comes back as a replica of the same master,
// as a production replica whose config names its master does.
//
// # Cleanup
//
// testcontainers' reaper (Ryuk) comes from a registry image that may not be
// reachable, so it is disabled (TESTCONTAINERS_RYUK_DISABLED=true unless the
// user set the variable) before the first testcontainers call; the library
// reads its configuration once per process. Instead every container carries
// labels: org.understudy.session, .node, .pid (the starting process), .host
// (its host name) and .tmpdir. Node.Terminate removes a node;
// RemoveSession removes a session's containers; RemoveStale removes the
// containers whose starting process no longer runs on this host, which
// covers a run that crashed or was killed.
//
// # Images
//
// A Catalog maps a version to an image. UNDERSTUDY_IMAGES selects the
// source: "auto" (default) uses the local understudy/redis:X.Y or
// understudy/valkey:X.Y image when it exists in the engine and the official
// redis:X.Y or valkey/valkey:X.Y otherwise; "local" uses only the local
// images, built from Debian packages by images/build.sh ("make images");
// "official" uses only official images. A missing official image is pulled
// once, and a failed pull is reported at once rather than retried.
package container
