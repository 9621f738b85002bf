select id, email_pseudonym, display_name_pseudonym, created_at
from {{ source('landing', 'users') }}
