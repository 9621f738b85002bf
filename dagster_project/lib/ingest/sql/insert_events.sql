-- One organization's staged events (a seq range), inserted with that tenant set
-- (app.current_org_id): the row-level security policy's WITH CHECK holds every row to it.
INSERT INTO app.usage_events (
    received_at, occurred_at, organization_id, user_id, api_key_id, model_id, input_tokens,
    output_tokens, latency_ms, event_id, operation, status, error_code, cost_usd, metadata,
    price_id, input_cost_usd, output_cost_usd
)
SELECT
    %(received_at)s, occurred_at, organization_id, user_id, api_key_id, model_id, input_tokens,
    output_tokens, latency_ms, event_id, operation, status, error_code, cost_usd, metadata,
    price_id, input_cost_usd, output_cost_usd
FROM ingest_stage
WHERE seq >= %(start)s AND seq < %(stop)s AND organization_id = %(org)s
