-- The append-only triggers of app.audit_log (202611220200_audit_log) fire under
-- session_replication_role = replica too. A plain ENABLEd trigger is skipped in replica mode,
-- which bulk loaders use to skip foreign-key triggers (the test seeds, the benchmark): one
-- `SET session_replication_role = replica` was enough to UPDATE, DELETE or TRUNCATE the log.
-- ENABLE ALWAYS makes them fire in every mode; only a deliberate ALTER TABLE ... DISABLE TRIGGER
-- by the owner (itself audited by the DDL history) turns them off. Bulk loads are unaffected:
-- the triggers reject changes and deletions, never inserts.
ALTER TABLE app.audit_log ENABLE ALWAYS TRIGGER trg_audit_log_append_only;
ALTER TABLE app.audit_log ENABLE ALWAYS TRIGGER trg_audit_log_no_truncate;
