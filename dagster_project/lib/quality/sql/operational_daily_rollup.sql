-- The operational daily rollup kept by trigger (app.usage_daily), in the marts' column names.
-- The day list is rendered by the caller as literal dates.
SELECT d.day,
       d.organization_id,
       d.model_id,
       d.requests,
       d.requests - d.errors AS successful_requests,
       d.errors AS failed_requests,
       d.input_tokens,
       d.output_tokens,
       d.cost_usd
FROM app.usage_daily AS d
WHERE d.day IN ({days})
