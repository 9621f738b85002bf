-- The one history write of the PostgreSQL driver: a migration's row, inserted or replaced.
INSERT INTO platform_meta.schema_migrations AS h
    (target, version, slug, checksum, applied_at, duration_ms, applied_by, dirty,
     transactional, metadata)
VALUES (%(target)s, %(version)s, %(slug)s, %(checksum)s, clock_timestamp(), %(duration_ms)s,
        %(applied_by)s, %(dirty)s, %(transactional)s, %(metadata)s)
ON CONFLICT (target, version) DO UPDATE SET
    slug = excluded.slug, checksum = excluded.checksum, applied_at = excluded.applied_at,
    duration_ms = excluded.duration_ms, applied_by = excluded.applied_by, dirty = excluded.dirty,
    transactional = excluded.transactional, metadata = excluded.metadata
