-- The demo's example analyst query: the organizations that cost the most over the rolled-up
-- days, from the analyst view marts.usage_by_org_day (docs/analytics.md). {start}/{end}: DATEs.
SELECT organization_slug,
       sum(requests) AS requests,
       sum(total_tokens) AS tokens,
       round(sum(cost_usd), 2) AS cost_usd
FROM marts.usage_by_org_day
WHERE day >= DATE '{start}' AND day < DATE '{end}'
GROUP BY organization_slug
ORDER BY cost_usd DESC, organization_slug
LIMIT 3
