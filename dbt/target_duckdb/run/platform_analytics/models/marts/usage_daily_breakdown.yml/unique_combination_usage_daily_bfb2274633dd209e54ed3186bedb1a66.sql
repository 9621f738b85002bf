
    
    select
      count(*) as failures,
      count(*) != 0 as should_warn,
      count(*) != 0 as should_error
    from (
      
    
  
select day, organization_id, model_id, api_key_id, user_id, operation, count(*) as rows_with_this_key
from "warehouse"."marts"."usage_daily_breakdown"
group by day, organization_id, model_id, api_key_id, user_id, operation
having count(*) > 1

  
  
      
    ) dbt_internal_test