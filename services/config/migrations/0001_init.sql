-- Current configuration values, every version of each (the history), and the audit trail.
CREATE TABLE IF NOT EXISTS config_values (
    namespace text NOT NULL,
    key text NOT NULL,
    value jsonb NOT NULL,
    version bigint NOT NULL,
    update_time timestamptz NOT NULL DEFAULT now(),
    update_principal text NOT NULL,
    PRIMARY KEY (namespace, key)
);

-- One row per change; a deletion is a version with no value. Never updated or deleted.
CREATE TABLE IF NOT EXISTS config_versions (
    namespace text NOT NULL,
    key text NOT NULL,
    version bigint NOT NULL,
    action text NOT NULL CHECK (action IN ('set', 'deleted', 'rolled_back')),
    value jsonb,
    create_time timestamptz NOT NULL DEFAULT now(),
    principal text NOT NULL,
    restored_version bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (namespace, key, version)
);

-- The auth service's audit shape, in a table of the config service's own.
CREATE TABLE IF NOT EXISTS config_audit_logs (
    id bigserial PRIMARY KEY,
    create_time timestamptz NOT NULL DEFAULT now(),
    actor text NOT NULL,
    action text NOT NULL,
    target_type text NOT NULL,
    target_id text NOT NULL,
    details jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS config_audit_logs_target_idx ON config_audit_logs (target_type, target_id, create_time);
