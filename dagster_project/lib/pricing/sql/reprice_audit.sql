-- One platform-level record per reprice that changed something (a no-op writes none).
INSERT INTO app.audit_log (organization_id, actor_type, actor_id, action, target_type, target_id,
                           before_state, after_state, metadata)
VALUES (NULL, 'system', %(actor)s, 'prices.reprice', 'model', %(model)s, %(before)s, %(after)s,
        %(metadata)s)
RETURNING id
