package redis

import (
	"strconv"
	"strings"
)

// InfoFields are the INFO fields of Redis 6.0 to 8.0 and Valkey 8 that
// runbooks commonly assert on. A reference to another field is a warning,
// not an error: modules and newer servers add fields.
var InfoFields = []string{
	// server
	"redis_version", "redis_git_sha1", "redis_build_id", "redis_mode", "os", "arch_bits", "multiplexing_api",
	"process_id", "run_id", "tcp_port", "uptime_in_seconds", "uptime_in_days", "hz", "configured_hz",
	"executable", "config_file", "server_name", "valkey_version", "io_threads_active", "server_time_usec",
	// clients
	"connected_clients", "cluster_connections", "maxclients", "blocked_clients", "tracking_clients",
	"clients_in_timeout_table", "client_recent_max_input_buffer", "client_recent_max_output_buffer",
	"pubsub_clients", "watching_clients", "total_blocking_keys", "paused_reason", "paused_actions",
	// memory
	"used_memory", "used_memory_human", "used_memory_rss", "used_memory_peak", "used_memory_dataset",
	"maxmemory", "maxmemory_human", "maxmemory_policy", "mem_fragmentation_ratio", "mem_allocator",
	"used_memory_lua", "used_memory_scripts", "number_of_cached_scripts",
	// persistence
	"loading", "async_loading", "rdb_changes_since_last_save", "rdb_bgsave_in_progress", "rdb_last_save_time",
	"rdb_last_bgsave_status", "aof_enabled", "aof_rewrite_in_progress", "aof_rewrite_scheduled",
	"aof_last_bgrewrite_status", "aof_last_write_status", "module_fork_in_progress",
	// stats
	"total_connections_received", "total_commands_processed", "instantaneous_ops_per_sec",
	"rejected_connections", "sync_full", "sync_partial_ok", "sync_partial_err", "expired_keys",
	"evicted_keys", "keyspace_hits", "keyspace_misses", "total_error_replies", "total_reads_processed",
	"total_writes_processed",
	// replication
	"role", "connected_slaves", "master_failover_state", "master_replid", "master_replid2",
	"master_repl_offset", "second_repl_offset", "repl_backlog_active", "repl_backlog_size",
	"repl_backlog_first_byte_offset", "repl_backlog_histlen", "master_host", "master_port",
	"master_link_status", "master_last_io_seconds_ago", "master_sync_in_progress", "slave_read_repl_offset",
	"slave_repl_offset", "slave_priority", "replica_priority", "slave_read_only", "replica_read_only",
	"replica_announced", "master_link_down_since_seconds", "min_slaves_good_slaves",
	"master_sync_total_bytes", "master_sync_read_bytes", "master_sync_left_bytes",
	"master_sync_perc", "master_sync_last_io_seconds_ago",
	// cpu
	"used_cpu_sys", "used_cpu_user", "used_cpu_sys_children", "used_cpu_user_children",
	// cluster
	"cluster_enabled",
}

func KnownInfoField(name string) bool {
	for _, f := range InfoFields {
		if f == name {
			return true
		}
	}
	// slaveN and dbN fields are numbered.
	for _, prefix := range []string{"slave", "db"} {
		if rest, ok := strings.CutPrefix(name, prefix); ok {
			if _, err := strconv.Atoi(rest); err == nil {
				return true
			}
		}
	}
	return false
}
