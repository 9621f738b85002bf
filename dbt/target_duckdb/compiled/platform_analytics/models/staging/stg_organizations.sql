select id, slug, name_pseudonym, status, created_at
from "warehouse"."landing"."organizations"