select id, slug, name_pseudonym, status, created_at
from {{ source('landing', 'organizations') }}
