SELECT version, slug, checksum, applied_at, duration_ms, applied_by, dirty, transactional, metadata
FROM platform_meta.schema_migrations WHERE target = ? ORDER BY version
