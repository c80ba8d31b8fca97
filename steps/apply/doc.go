// Package apply runs an approved runbook against live nodes: the saved plan
// and its approval, the journal and resume, the lock, the canary writer.
package apply
