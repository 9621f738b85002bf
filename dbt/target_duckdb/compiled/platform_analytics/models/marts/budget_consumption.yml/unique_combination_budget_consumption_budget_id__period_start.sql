
select budget_id, period_start, count(*) as rows_with_this_key
from "warehouse"."marts"."budget_consumption"
group by budget_id, period_start
having count(*) > 1
