
    
    select
      count(*) as failures,
      count(*) != 0 as should_warn,
      count(*) != 0 as should_error
    from (
      
    
  
select day, organization_id, count(*) as rows_with_this_key
from "warehouse"."marts"."usage_by_org_day"
group by day, organization_id
having count(*) > 1

  
  
      
    ) dbt_internal_test