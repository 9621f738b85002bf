select
    id,
    provider,
    model_name,
    version,
    provider || '/' || model_name || '@' || version as model,
    context_window,
    status,
    created_at
from "warehouse"."landing"."model_registry"