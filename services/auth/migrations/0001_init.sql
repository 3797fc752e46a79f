-- Users who log in with a password (scrypt hash), their sessions, API keys, and the audit trail.
CREATE TABLE IF NOT EXISTS users (
    username text PRIMARY KEY,
    password_hash text NOT NULL,
    scopes text[] NOT NULL DEFAULT '{}',
    disabled boolean NOT NULL DEFAULT false,
    create_time timestamptz NOT NULL DEFAULT now()
);

-- Only a salted HMAC-SHA256 (server pepper) of each secret is stored; the secret is shown once.
CREATE TABLE IF NOT EXISTS api_keys (
    key_id text PRIMARY KEY,
    display_name text NOT NULL,
    owner text NOT NULL REFERENCES users (username),
    scopes text[] NOT NULL,
    secret_salt text NOT NULL,
    secret_hash text NOT NULL,
    requests_per_minute integer NOT NULL DEFAULT 0,
    audio_seconds_per_day bigint NOT NULL DEFAULT 0,
    characters_per_day bigint NOT NULL DEFAULT 0,
    create_time timestamptz NOT NULL DEFAULT now(),
    rotate_time timestamptz NOT NULL DEFAULT now(),
    revoke_time timestamptz
);
CREATE INDEX IF NOT EXISTS api_keys_owner_idx ON api_keys (owner, create_time DESC);

-- One row per login; the refresh token is single use (its hash is replaced on every Refresh).
CREATE TABLE IF NOT EXISTS sessions (
    session_id text PRIMARY KEY,
    username text NOT NULL REFERENCES users (username),
    secret_salt text NOT NULL,
    secret_hash text NOT NULL,
    create_time timestamptz NOT NULL DEFAULT now(),
    refresh_time timestamptz NOT NULL DEFAULT now(),
    expire_time timestamptz NOT NULL,
    revoke_time timestamptz
);

CREATE TABLE IF NOT EXISTS audit_logs (
    id bigserial PRIMARY KEY,
    create_time timestamptz NOT NULL DEFAULT now(),
    actor text NOT NULL,
    action text NOT NULL,
    target_type text NOT NULL,
    target_id text NOT NULL,
    details jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS audit_logs_target_idx ON audit_logs (target_type, target_id, create_time);
