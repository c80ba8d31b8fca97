package redis

import (
	"regexp"
	"strings"

	"github.com/agext/levenshtein"
)

// The INFO fields below were read on 2026-11-26 from the default INFO reply
// (INFO without a section, which is what understudy reads) of
//
//	redis 6.0.16, redis 7.0.15, redis 8.0.2, valkey 8.1.1 and valkey 9.1.2
//
// (the understudy/* images built from Debian packages), each on a master and
// on a replica of it, and again in the states that add fields: a full sync
// with the replica loading a large RDB, a replica whose master is gone,
// appendonly yes, min-replicas-to-write 1, a failed command (errorstats),
// keys of every type (Redis 8.0 keysizes),
// cluster-compatibility-sample-ratio 100 (Redis 8.0) and a shutdown waiting
// for a lagging replica. The fields the server binaries have format strings
// for were checked against what was seen; those left out belong to other
// replies (CLUSTER INFO, INFO debug, DEBUG OBJECT) or to Sentinel.
//
// The list is kept by hand, sorted by section and then by name. A comment
// says where a field is not in every reply: which versions report it, on
// which role, in which state. When a version is added, read its INFO the
// same way and add what is new; TestInfoFieldsKnown (steps/redis) and
// TestInfoFieldsOfImages (e2e) fail on a field that is missing.

// InfoFields are the INFO fields with a fixed name that a supported version
// reports. A runbook that reads another field is refused: no supported
// server would report it. Numbered fields are in InfoFieldPatterns.
var InfoFields = []string{
	// Server
	"arch_bits",
	"atomicvar_api",     // not valkey
	"availability_zone", // valkey 8.1
	"clients_hz",        // valkey 8.1
	"config_file",
	"configured_hz",
	"executable",
	"gcc_version",
	"hz",
	"io_threads_active",
	"lru_clock",
	"monotonic_clock", // not redis 6.0
	"multiplexing_api",
	"os",
	"process_id",
	"process_supervised", // not redis 6.0
	"redis_build_id",
	"redis_git_dirty",
	"redis_git_sha1",
	"redis_mode", // not valkey
	"redis_version",
	"run_id",
	"server_mode",              // valkey 8.1
	"server_name",              // valkey 8.1
	"server_time_usec",         // not redis 6.0
	"shutdown_in_milliseconds", // not redis 6.0; while a shutdown waits for replicas
	"tcp_port",
	"uptime_in_days",
	"uptime_in_seconds",
	"valkey_release_stage", // valkey 8.1
	"valkey_version",       // valkey 8.1
	// Clients
	"blocked_clients",
	"client_recent_max_input_buffer",
	"client_recent_max_output_buffer",
	"clients_in_timeout_table",
	"cluster_connections", // not redis 6.0
	"connected_clients",
	"maxclients",                   // not redis 6.0
	"paused_actions",               // valkey 8.1
	"paused_reason",                // valkey 8.1
	"paused_timeout_milliseconds",  // valkey 8.1
	"pubsub_clients",               // redis 8.0; valkey 8.1
	"total_blocking_keys",          // redis 8.0; valkey 8.1
	"total_blocking_keys_on_nokey", // redis 8.0; valkey 8.1
	"total_watched_keys",           // redis 8.0; valkey 8.1
	"tracking_clients",
	"watching_clients", // redis 8.0; valkey 8.1
	// Memory
	"active_defrag_running",
	"allocator_active",
	"allocator_allocated",
	"allocator_frag_bytes",
	"allocator_frag_ratio",
	"allocator_muzzy", // redis 8.0; valkey 8.1
	"allocator_resident",
	"allocator_rss_bytes",
	"allocator_rss_ratio",
	"lazyfree_pending_objects",
	"lazyfreed_objects", // not redis 6.0
	"maxmemory",
	"maxmemory_human",
	"maxmemory_policy",
	"mem_allocator",
	"mem_aof_buffer",
	"mem_clients_normal",
	"mem_clients_slaves",
	"mem_cluster_links",       // not redis 6.0
	"mem_cluster_slot_export", // valkey 9.1
	"mem_cluster_slot_import", // valkey 9.1
	"mem_fragmentation_bytes",
	"mem_fragmentation_ratio",
	"mem_not_counted_for_evict",
	"mem_overhead_db_hashtable_rehashing", // redis 8.0; valkey 8.1
	"mem_replica_full_sync_buffer",        // redis 8.0
	"mem_replicas_repl_buffer",            // valkey 9.1
	"mem_replication_backlog",
	"mem_total_replication_buffers", // not redis 6.0
	"number_of_cached_scripts",
	"number_of_functions", // not redis 6.0
	"number_of_libraries", // not redis 6.0
	"rss_overhead_bytes",
	"rss_overhead_ratio",
	"total_system_memory",
	"total_system_memory_human",
	"used_memory",
	"used_memory_dataset",
	"used_memory_dataset_perc",
	"used_memory_functions", // not redis 6.0
	"used_memory_human",
	"used_memory_lua",
	"used_memory_lua_human",
	"used_memory_overhead",
	"used_memory_peak",
	"used_memory_peak_human",
	"used_memory_peak_perc",
	"used_memory_rss",
	"used_memory_rss_human",
	"used_memory_scripts",
	"used_memory_scripts_eval", // not redis 6.0
	"used_memory_scripts_human",
	"used_memory_startup",
	"used_memory_vm_eval",        // not redis 6.0
	"used_memory_vm_functions",   // not redis 6.0
	"used_memory_vm_total",       // not redis 6.0
	"used_memory_vm_total_human", // not redis 6.0
	// Persistence
	"aof_base_size",     // with appendonly yes
	"aof_buffer_length", // with appendonly yes
	"aof_current_rewrite_time_sec",
	"aof_current_size",  // with appendonly yes
	"aof_delayed_fsync", // with appendonly yes
	"aof_enabled",
	"aof_last_bgrewrite_status",
	"aof_last_cow_size",
	"aof_last_rewrite_time_sec",
	"aof_last_write_status",
	"aof_pending_bio_fsync",     // with appendonly yes
	"aof_pending_rewrite",       // with appendonly yes
	"aof_rewrite_buffer_length", // redis 6.0; with appendonly yes
	"aof_rewrite_in_progress",
	"aof_rewrite_scheduled",
	"aof_rewrites",                      // not redis 6.0
	"aof_rewrites_consecutive_failures", // not redis 6.0
	"async_loading",                     // not redis 6.0
	"current_cow_peak",                  // not redis 6.0
	"current_cow_size",                  // not redis 6.0
	"current_cow_size_age",              // not redis 6.0
	"current_fork_perc",                 // not redis 6.0
	"current_save_keys_processed",       // not redis 6.0
	"current_save_keys_total",           // not redis 6.0
	"loading",
	"loading_eta_seconds",  // while loading
	"loading_loaded_bytes", // while loading
	"loading_loaded_perc",  // while loading
	"loading_rdb_used_mem", // not redis 6.0; while loading
	"loading_start_time",   // while loading
	"loading_total_bytes",  // while loading
	"module_fork_in_progress",
	"module_fork_last_cow_size",
	"rdb_bgsave_in_progress",
	"rdb_changes_since_last_save",
	"rdb_current_bgsave_time_sec",
	"rdb_last_bgsave_status",
	"rdb_last_bgsave_time_sec",
	"rdb_last_cow_size",
	"rdb_last_load_keys_expired", // not redis 6.0
	"rdb_last_load_keys_loaded",  // not redis 6.0
	"rdb_last_save_time",
	"rdb_saves",                       // not redis 6.0
	"slot_migration_fork_in_progress", // valkey 9.1
	// Stats
	"acl_access_denied_auth",     // redis 8.0; valkey 8.1
	"acl_access_denied_channel",  // redis 8.0; valkey 8.1
	"acl_access_denied_cmd",      // redis 8.0; valkey 8.1
	"acl_access_denied_db",       // valkey 9.1
	"acl_access_denied_key",      // redis 8.0; valkey 8.1
	"acl_access_denied_tls_cert", // valkey 9.1
	"active_defrag_hits",
	"active_defrag_key_hits",
	"active_defrag_key_misses",
	"active_defrag_misses",
	"client_output_buffer_limit_disconnections", // redis 8.0; valkey 8.1
	"client_query_buffer_limit_disconnections",  // redis 8.0; valkey 8.1
	"cluster_incompatible_ops",                  // redis 8.0; with cluster-compatibility-sample-ratio > 0
	"current_active_defrag_time",                // not redis 6.0
	"current_eviction_exceeded_time",            // not redis 6.0
	"dump_payload_sanitizations",                // not redis 6.0
	"eventloop_cycles",                          // redis 8.0; valkey 8.1
	"eventloop_duration_cmd_sum",                // redis 8.0; valkey 8.1
	"eventloop_duration_sum",                    // redis 8.0; valkey 8.1
	"evicted_clients",                           // not redis 6.0
	"evicted_keys",
	"evicted_scripts", // redis 8.0; valkey 8.1
	"expire_cycle_cpu_milliseconds",
	"expired_fields", // valkey 9.1
	"expired_keys",
	"expired_keys_with_volatile_items_stale_perc", // valkey 9.1
	"expired_stale_perc",
	"expired_subkeys", // redis 8.0
	"expired_time_cap_reached_count",
	"instantaneous_eventloop_cycles_per_sec", // redis 8.0; valkey 8.1
	"instantaneous_eventloop_duration_usec",  // redis 8.0; valkey 8.1
	"instantaneous_input_kbps",
	"instantaneous_input_repl_kbps", // not redis 6.0
	"instantaneous_ops_per_sec",
	"instantaneous_output_kbps",
	"instantaneous_output_repl_kbps", // not redis 6.0
	"io_threaded_accept_processed",   // valkey 8.1
	"io_threaded_freed_objects",      // valkey 8.1
	"io_threaded_poll_processed",     // valkey 8.1
	"io_threaded_reads_processed",
	"io_threaded_total_prefetch_batches", // valkey 8.1
	"io_threaded_total_prefetch_entries", // valkey 8.1
	"io_threaded_writes_processed",
	"keyspace_hits",
	"keyspace_misses",
	"latest_fork_usec",
	"migrate_cached_sockets",
	"pubsub_channels",
	"pubsub_patterns",
	"pubsubshard_channels", // not redis 6.0
	"rejected_connections",
	"reply_buffer_expands", // not redis 6.0
	"reply_buffer_shrinks", // not redis 6.0
	"slave_expires_tracked_keys",
	"sync_full",
	"sync_partial_err",
	"sync_partial_ok",
	"total_active_defrag_time", // not redis 6.0
	"total_commands_processed",
	"total_connections_received",
	"total_error_replies",                 // not redis 6.0
	"total_eviction_exceeded_time",        // not redis 6.0
	"total_forks",                         // not redis 6.0
	"total_net_cluster_slot_export_bytes", // valkey 9.1
	"total_net_cluster_slot_import_bytes", // valkey 9.1
	"total_net_input_bytes",
	"total_net_output_bytes",
	"total_net_repl_input_bytes",  // not redis 6.0
	"total_net_repl_output_bytes", // not redis 6.0
	"total_reads_processed",
	"total_writes_processed",
	"tracking_total_items",
	"tracking_total_keys",
	"tracking_total_prefixes",
	"unexpected_error_replies",
	// Replication
	"connected_slaves",
	"master_failover_state",          // not redis 6.0
	"master_host",                    // replica
	"master_last_io_seconds_ago",     // replica
	"master_link_down_since_seconds", // replica; while the link is down
	"master_link_status",             // replica
	"master_port",                    // replica
	"master_repl_offset",
	"master_replid",
	"master_replid2",
	"master_sync_in_progress",         // replica
	"master_sync_last_io_seconds_ago", // replica; during a full sync
	"master_sync_left_bytes",          // replica; during a full sync
	"master_sync_perc",                // not redis 6.0; replica; during a full sync
	"master_sync_read_bytes",          // not redis 6.0; replica; during a full sync
	"master_sync_total_bytes",         // not redis 6.0; replica; during a full sync
	"min_slaves_good_slaves",          // with min-replicas-to-write > 0
	"repl_backlog_active",
	"repl_backlog_first_byte_offset",
	"repl_backlog_histlen",
	"repl_backlog_size",
	"replica_announced",             // not redis 6.0; replica
	"replica_full_sync_buffer_peak", // redis 8.0; replica
	"replica_full_sync_buffer_size", // redis 8.0; replica
	"replicas_repl_buffer_peak",     // valkey 8.1; replica
	"replicas_repl_buffer_size",     // valkey 8.1; replica
	"replicas_waiting_psync",        // valkey 8.1
	"role",
	"second_repl_offset",
	"slave_priority",         // replica
	"slave_read_only",        // replica
	"slave_read_repl_offset", // not redis 6.0; replica
	"slave_repl_offset",      // replica
	// CPU
	"used_active_time_main_thread", // valkey 9.1
	"used_cpu_sys",
	"used_cpu_sys_children",
	"used_cpu_sys_main_thread", // not redis 6.0
	"used_cpu_user",
	"used_cpu_user_children",
	"used_cpu_user_main_thread", // not redis 6.0
	// Modules
	"module", // one line per loaded module (redis 8.0 loads vectorset); the last one wins
	// Cluster
	"cluster_enabled",
}

// InfoFieldPatterns are the INFO fields with a number or a name in them:
// <N> stands for a decimal number, <CODE> for an error code (ERR,
// WRONGTYPE, ...).
var InfoFieldPatterns = []string{
	// Server
	"listener<N>", // redis 8.0; valkey 8.1
	// Threads
	"io_thread_<N>", // redis 8.0
	// Replication
	"slave<N>", // master with replicas
	// Errorstats
	"errorstat_<CODE>", // not redis 6.0; after an error reply
	// Keyspace
	"db<N>",
	// Keysizes
	"db<N>_distrib_hashes_items",  // redis 8.0; with keys of that type
	"db<N>_distrib_lists_items",   // redis 8.0; with keys of that type
	"db<N>_distrib_sets_items",    // redis 8.0; with keys of that type
	"db<N>_distrib_strings_sizes", // redis 8.0; with keys of that type
	"db<N>_distrib_zsets_items",   // redis 8.0; with keys of that type
}

var (
	infoFieldSet = func() map[string]bool {
		m := make(map[string]bool, len(InfoFields))
		for _, f := range InfoFields {
			m[f] = true
		}
		return m
	}()
	infoFieldPatterns = func() []*regexp.Regexp {
		out := make([]*regexp.Regexp, len(InfoFieldPatterns))
		for i, p := range InfoFieldPatterns {
			out[i] = regexp.MustCompile("^" + patternRegexp(p) + "$")
		}
		return out
	}()
)

// patternRegexp turns an InfoFieldPatterns entry into a regular expression.
func patternRegexp(p string) string {
	r := regexp.QuoteMeta(p)
	r = strings.ReplaceAll(r, "<N>", "[0-9]+")
	return strings.ReplaceAll(r, "<CODE>", `[^\s:]+`)
}

// KnownInfoField reports whether a supported version reports the INFO
// field name, on some role and in some state.
func KnownInfoField(name string) bool {
	if infoFieldSet[name] {
		return true
	}
	for _, re := range infoFieldPatterns {
		if re.MatchString(name) {
			return true
		}
	}
	return false
}

// SuggestInfoField returns the known INFO field closest to name, for a
// "did you mean" hint: name itself when it is known, "" when no field is
// close enough (an edit distance of at most 3, and at most half the
// length of name). Numbered fields are suggested with the number of name,
// or 0.
func SuggestInfoField(name string) string {
	if KnownInfoField(name) {
		return name
	}
	lower := strings.ToLower(name)
	if KnownInfoField(lower) {
		return lower
	}
	best, bestD := "", 4
	try := func(c string) {
		if d := levenshtein.Distance(lower, c, nil); d < bestD {
			best, bestD = c, d
		}
	}
	for _, f := range InfoFields {
		try(f)
	}
	num := firstNumber.FindString(name)
	if num == "" {
		num = "0"
	}
	for _, p := range InfoFieldPatterns {
		if !strings.Contains(p, "<CODE>") {
			try(strings.ReplaceAll(p, "<N>", num))
		}
	}
	if best == "" || 2*bestD > len(name) {
		return ""
	}
	return best
}

var firstNumber = regexp.MustCompile("[0-9]+")
