-- The model registry and its price history: global reference data, the same for every tenant,
-- so no organization_id and no row-level security; the service roles may only read it. It is
-- written by migrations and seeds (as the owner or a superuser).

-- btree_gist lets one GiST exclusion constraint combine `model_id WITH =` (a uuid) with a range
-- overlap. Installed in public, where extensions conventionally live; the down file removes it.
CREATE EXTENSION IF NOT EXISTS btree_gist WITH SCHEMA public;

CREATE TABLE app.model_registry (
    id uuid NOT NULL DEFAULT gen_random_uuid(),
    provider text NOT NULL,
    model_name text NOT NULL,
    -- A dated version ('2024-08-06') or a moving alias ('latest'), as the provider names it.
    version text NOT NULL,
    context_window integer NOT NULL,
    status text NOT NULL DEFAULT 'active',
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT pk_model_registry PRIMARY KEY (id),
    CONSTRAINT uq_model_registry_provider_model_version UNIQUE (provider, model_name, version),
    CONSTRAINT ck_model_registry_provider CHECK (provider ~ '^[a-z0-9][a-z0-9_-]{0,63}$'),
    CONSTRAINT ck_model_registry_model_name CHECK (length(btrim(model_name)) BETWEEN 1 AND 200),
    CONSTRAINT ck_model_registry_version CHECK (length(btrim(version)) BETWEEN 1 AND 100),
    CONSTRAINT ck_model_registry_context_window CHECK (context_window > 0),
    -- Models are retired, not deleted: usage events and budgets keep their ids.
    CONSTRAINT ck_model_registry_status CHECK (status IN ('active', 'deprecated', 'retired'))
);
ALTER TABLE app.model_registry OWNER TO platform_owner;
COMMENT ON TABLE app.model_registry IS 'LLM models the platform meters: provider, name, version or alias, context window, status.';

-- Prices in USD per million tokens, valid over [effective_from, effective_to); effective_to NULL
-- = until further notice. A price change closes the open period and inserts a new one, it never
-- edits a period that has started: usage_events store the cost computed from the price in
-- effect at occurred_at, and with this history that cost can always be recomputed and checked.
CREATE TABLE app.model_prices (
    model_id uuid NOT NULL,
    effective_from timestamptz NOT NULL,
    effective_to timestamptz,
    input_usd_per_mtok numeric(12, 6) NOT NULL,
    output_usd_per_mtok numeric(12, 6) NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT pk_model_prices PRIMARY KEY (model_id, effective_from),
    -- No cascade: a model with a price history is retired, not deleted.
    CONSTRAINT fk_model_prices_model FOREIGN KEY (model_id) REFERENCES app.model_registry (id),
    CONSTRAINT ck_model_prices_period CHECK (effective_to > effective_from),
    CONSTRAINT ck_model_prices_input_price CHECK (input_usd_per_mtok >= 0),
    CONSTRAINT ck_model_prices_output_price CHECK (output_usd_per_mtok >= 0),
    -- At most one price per model at any instant. Its GiST index also answers "the price in
    -- effect at t" (tstzrange(effective_from, effective_to) @> t).
    CONSTRAINT ex_model_prices_no_overlap EXCLUDE USING gist (
        model_id WITH =, tstzrange(effective_from, effective_to) WITH &&)
);
ALTER TABLE app.model_prices OWNER TO platform_owner;
COMMENT ON TABLE app.model_prices IS 'Price history per model, USD per million input/output tokens, over [effective_from, effective_to).';

-- Enforces the history rule above for everyone but a superuser who disables the trigger on
-- purpose: a period that has started is immutable, except that an open one may be closed at a
-- time not in the past. Periods that have not started may still be corrected or deleted.
CREATE FUNCTION app.model_prices_keep_history() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF OLD.effective_from > now() THEN
        RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
    END IF;
    IF TG_OP = 'UPDATE' AND (
        NEW IS NOT DISTINCT FROM OLD
        OR (OLD.effective_to IS NULL AND NEW.effective_to >= now()
            AND (NEW.model_id, NEW.effective_from, NEW.input_usd_per_mtok, NEW.output_usd_per_mtok, NEW.created_at)
                IS NOT DISTINCT FROM
                (OLD.model_id, OLD.effective_from, OLD.input_usd_per_mtok, OLD.output_usd_per_mtok, OLD.created_at)))
    THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'model_prices: the period of model % from % has started and is history; close it (effective_to >= now()) and add a new period instead',
        OLD.model_id, OLD.effective_from
        USING ERRCODE = 'integrity_constraint_violation';
END
$$;
ALTER FUNCTION app.model_prices_keep_history() OWNER TO platform_owner;
REVOKE ALL ON FUNCTION app.model_prices_keep_history() FROM PUBLIC;
CREATE TRIGGER trg_model_prices_keep_history
    BEFORE UPDATE OR DELETE ON app.model_prices
    FOR EACH ROW EXECUTE FUNCTION app.model_prices_keep_history();

GRANT SELECT ON app.model_registry, app.model_prices TO platform_app, platform_ingest, platform_analyst;
