-- The operational rollup kept by trigger (app.usage_hourly), in the marts' column names.
SELECT h.hour AS hour_start,
       h.organization_id,
       h.model_id,
       h.requests,
       h.requests - h.errors AS successful_requests,
       h.errors AS failed_requests,
       h.input_tokens,
       h.output_tokens,
       h.cost_usd
FROM app.usage_hourly AS h
WHERE {in_ranges:h.hour}
