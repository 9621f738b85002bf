ALTER POLICY p_usage_events_tenant ON app.usage_events
    WITH CHECK (organization_id = app.current_org_id());
