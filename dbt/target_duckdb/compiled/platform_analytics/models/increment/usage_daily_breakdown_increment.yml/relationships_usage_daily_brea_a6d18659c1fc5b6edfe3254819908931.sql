
    
    

with child as (
    select organization_id as from_field
    from "warehouse"."increment"."usage_daily_breakdown_increment"
    where organization_id is not null
),

parent as (
    select id as to_field
    from "warehouse"."staging"."stg_organizations"
)

select
    from_field

from child
left join parent
    on child.from_field = parent.to_field

where parent.to_field is null


