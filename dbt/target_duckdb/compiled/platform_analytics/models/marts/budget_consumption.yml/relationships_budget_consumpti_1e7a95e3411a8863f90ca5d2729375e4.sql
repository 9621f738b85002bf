
    
    

with child as (
    select budget_id as from_field
    from "warehouse"."marts"."budget_consumption"
    where budget_id is not null
),

parent as (
    select id as to_field
    from "warehouse"."staging"."stg_budgets"
)

select
    from_field

from child
left join parent
    on child.from_field = parent.to_field

where parent.to_field is null


