
    
    select
      count(*) as failures,
      count(*) != 0 as should_warn,
      count(*) != 0 as should_error
    from (
      
    
  
select month, model_id, count(*) as rows_with_this_key
from "warehouse"."marts"."cost_by_model_month"
group by month, model_id
having count(*) > 1

  
  
      
    ) dbt_internal_test