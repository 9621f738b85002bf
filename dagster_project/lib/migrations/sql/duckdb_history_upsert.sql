-- The one history write of the DuckDB driver: a migration's row, inserted or replaced.
INSERT INTO platform_meta.schema_migrations
    (target, version, slug, checksum, applied_at, duration_ms, applied_by, dirty,
     transactional, metadata)
VALUES ($target, $version, $slug, $checksum, current_timestamp, $duration_ms, $applied_by,
        $dirty, $transactional, $metadata)
ON CONFLICT (target, version) DO UPDATE SET
    slug = excluded.slug, checksum = excluded.checksum, applied_at = excluded.applied_at,
    duration_ms = excluded.duration_ms, applied_by = excluded.applied_by, dirty = excluded.dirty,
    transactional = excluded.transactional, metadata = excluded.metadata
