-- Org usage for a time range: requests, errors, tokens and cost per UTC hour and model.
--
-- Runs as: platform_app inside tenant_transaction(conn, organization_id) (RLS applies).
-- Parameters: organization_id uuid (the transaction's tenant); range_start, range_end
--   timestamptz, [range_start, range_end), hour-aligned (an hour counts when it starts in the
--   range).
-- Reads app.usage_hourly, which the trigger on app.usage_events keeps exact in the events'
--   own transactions (migration 202611221100): the cost is hours x models rows, not events, and
--   hours whose events retention has removed are still there.
-- Bounds (the caller enforces them): range_end - range_start <= 24 hours (p95 under 1 ms for
--   every tenant). A week measured p95 ~4 ms, at the contract's 5 ms edge (~1,300 rows to send
--   and decode, docs/query-contract.md): longer charts should read app.usage_daily.
-- Index: pk_usage_hourly (organization_id, hour, model_id): one range of it, already in output
--   order.
SELECT u.hour,
       u.model_id,
       u.requests,
       u.errors,
       u.input_tokens,
       u.output_tokens,
       u.cost_usd
FROM app.usage_hourly AS u
WHERE u.organization_id = %(organization_id)s
  AND u.hour >= %(range_start)s
  AND u.hour < %(range_end)s
ORDER BY u.hour, u.model_id
