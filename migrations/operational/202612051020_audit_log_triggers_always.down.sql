-- Back to plain ENABLE (fires in origin and local mode, skipped under replica).
ALTER TABLE app.audit_log ENABLE TRIGGER trg_audit_log_no_truncate;
ALTER TABLE app.audit_log ENABLE TRIGGER trg_audit_log_append_only;
