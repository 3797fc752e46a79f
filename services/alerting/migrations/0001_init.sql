-- Alert rules (the data Prometheus's rule file is rendered from), the alerts Alertmanager
-- reported (one row per instance from firing to resolved), and the outgoing webhook
-- deliveries: an outbox, so a notification is sent until its receiver takes it, across restarts.
CREATE TABLE IF NOT EXISTS alert_rules (
    rule_id uuid PRIMARY KEY,
    name text NOT NULL UNIQUE,
    kind smallint NOT NULL,
    severity smallint NOT NULL,
    summary text NOT NULL DEFAULT '',
    component text NOT NULL DEFAULT '',
    method text NOT NULL DEFAULT '',
    model text NOT NULL DEFAULT '',
    threshold double precision NOT NULL DEFAULT 0,
    for_s integer NOT NULL DEFAULT 0,
    window_s integer NOT NULL DEFAULT 0,  -- event rules: the counting window
    key_id text NOT NULL DEFAULT '',  -- quota rules: the key watched ('' any)
    webhook_urls text[] NOT NULL DEFAULT '{}',
    webhook_secret text NOT NULL DEFAULT '',
    create_time timestamptz NOT NULL DEFAULT now(),
    update_time timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS alerts (
    alert_id uuid PRIMARY KEY,  -- uuid5 of (fingerprint, start): Alertmanager's repeats map to one row
    rule_id uuid NULL,
    rule_name text NOT NULL,
    fingerprint text NOT NULL,
    state smallint NOT NULL,  -- AlertState: 1 firing, 2 resolved
    severity smallint NOT NULL,
    summary text NOT NULL DEFAULT '',
    labels jsonb NOT NULL DEFAULT '{}',
    start_time timestamptz NOT NULL,
    end_time timestamptz NULL,
    acknowledged_by text NOT NULL DEFAULT '',
    acknowledge_time timestamptz NULL,
    update_time timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS alerts_start_idx ON alerts (start_time DESC, alert_id);
CREATE INDEX IF NOT EXISTS alerts_rule_idx ON alerts (rule_id, start_time DESC);

CREATE TABLE IF NOT EXISTS webhook_deliveries (
    delivery_id bigserial PRIMARY KEY,
    alert_id uuid NOT NULL,
    transition smallint NOT NULL,  -- the AlertState the notification reports
    url text NOT NULL,
    secret text NOT NULL,
    body bytea NOT NULL,
    attempts integer NOT NULL DEFAULT 0,
    next_attempt_time timestamptz NOT NULL DEFAULT now(),
    delivered_time timestamptz NULL,
    last_error text NOT NULL DEFAULT '',
    create_time timestamptz NOT NULL DEFAULT now(),
    UNIQUE (alert_id, transition, url)
);
CREATE INDEX IF NOT EXISTS webhook_deliveries_due_idx ON webhook_deliveries (next_attempt_time)
    WHERE delivered_time IS NULL;
