-- Back to the foreign key (validated against every stored event: slow on a large table).
DROP TRIGGER trg_organizations_keep_usage_events_truncate ON app.organizations;
DROP TRIGGER trg_organizations_keep_usage_events ON app.organizations;
DROP FUNCTION app.organizations_keep_usage_events();
DROP POLICY p_usage_events_owner_reads ON app.usage_events;
ALTER TABLE app.usage_events
    ADD CONSTRAINT fk_usage_events_organization FOREIGN KEY (organization_id) REFERENCES app.organizations (id);
COMMENT ON TABLE app.usage_events IS 'One row per LLM request; daily RANGE partitions on occurred_at (UTC), no default partition. FK only to organizations: user, key and model are validated by ingestion.';
