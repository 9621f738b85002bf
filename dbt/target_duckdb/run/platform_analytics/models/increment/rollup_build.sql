
    

    create  table
      "warehouse"."increment"."rollup_build__dbt_tmp"
  
    
    as (
      
select
    cast('x' as varchar) as build_id,
    cast('[["2026-12-01T00:00:00+00:00","2026-12-01T04:00:00+00:00"]]' as varchar) as rollup_ranges,
    current_timestamp as built_at
    );
    
  