
    
    select
      count(*) as failures,
      count(*) != 0 as should_warn,
      count(*) != 0 as should_error
    from (
      
    
  
select budget_id, period_start, count(*) as rows_with_this_key
from "warehouse"."marts"."budget_consumption"
group by budget_id, period_start
having count(*) > 1

  
  
      
    ) dbt_internal_test