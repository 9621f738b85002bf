
  
  create view "warehouse"."staging"."stg_organizations__dbt_tmp" as (
    select id, slug, name_pseudonym, status, created_at
from "warehouse"."landing"."organizations"
  );
