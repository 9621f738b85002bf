-- Spending limits per organization, optionally per model, per UTC day or calendar month.
-- Consumption for the current period is read from usage_events through its primary key
-- (organization_id, occurred_at, ...): organization_id = $1 AND occurred_at >= start of period
-- [AND model_id = $2], pruned to the period's daily partitions.
CREATE TABLE app.budgets (
    id uuid NOT NULL DEFAULT gen_random_uuid(),
    organization_id uuid NOT NULL,
    -- NULL: the budget covers all models of the organization.
    model_id uuid,
    period text NOT NULL,
    token_limit bigint,
    cost_limit_usd numeric(14, 4),
    -- Fractions of the limit: at soft_threshold the organization is warned, at hard_threshold
    -- requests are refused. The limit is the ceiling, so hard_threshold <= 1.
    soft_threshold numeric(4, 3) NOT NULL DEFAULT 0.8,
    hard_threshold numeric(4, 3) NOT NULL DEFAULT 1.0,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT pk_budgets PRIMARY KEY (id),
    -- One budget per organization, model (or all models) and period. NULLS NOT DISTINCT: two
    -- organization-wide budgets (model_id NULL) for the same period are duplicates too.
    -- Also serves fk_budgets_organization and "the budgets of this organization".
    CONSTRAINT uq_budgets_organization_model_period UNIQUE NULLS NOT DISTINCT (organization_id, model_id, period),
    CONSTRAINT fk_budgets_organization FOREIGN KEY (organization_id)
        REFERENCES app.organizations (id) ON DELETE CASCADE,
    CONSTRAINT fk_budgets_model FOREIGN KEY (model_id) REFERENCES app.model_registry (id),
    CONSTRAINT ck_budgets_period CHECK (period IN ('day', 'month')),
    CONSTRAINT ck_budgets_has_limit CHECK (token_limit IS NOT NULL OR cost_limit_usd IS NOT NULL),
    CONSTRAINT ck_budgets_token_limit CHECK (token_limit > 0),
    CONSTRAINT ck_budgets_cost_limit CHECK (cost_limit_usd > 0),
    CONSTRAINT ck_budgets_thresholds CHECK (
        soft_threshold > 0 AND soft_threshold < hard_threshold AND hard_threshold <= 1)
);
ALTER TABLE app.budgets OWNER TO platform_owner;
COMMENT ON TABLE app.budgets IS 'Token and cost limits per organization (optionally per model) and period, with soft and hard thresholds.';
-- fk_budgets_model (only rows that name a model).
CREATE INDEX idx_budgets_model_id ON app.budgets (model_id) WHERE model_id IS NOT NULL;

ALTER TABLE app.budgets ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY p_budgets_tenant ON app.budgets
    FOR ALL TO platform_app, platform_ingest, platform_analyst
    USING (organization_id = app.current_org_id()) WITH CHECK (organization_id = app.current_org_id());
GRANT SELECT, INSERT, UPDATE, DELETE ON app.budgets TO platform_app;
