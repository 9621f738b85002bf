-- DROP TABLE fires no row or TRUNCATE trigger: rolling this migration back removes the log.
DROP FUNCTION IF EXISTS public.record_migration_audit(text, text, text, text, jsonb);
DROP TABLE IF EXISTS app.audit_log;
DROP FUNCTION IF EXISTS app.audit_log_reject_change();
