
  
  create view "warehouse"."staging"."stg_users__dbt_tmp" as (
    select id, email_pseudonym, display_name_pseudonym, created_at
from "warehouse"."landing"."users"
  );
