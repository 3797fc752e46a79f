-- Spans and log records received over OTLP. Ids are lowercase hex text (what the API speaks).
-- `id` is the arrival order: retention deletes the lowest ids first.
CREATE TABLE IF NOT EXISTS telemetry_spans (
    id bigserial PRIMARY KEY,
    trace_id text NOT NULL,
    span_id text NOT NULL,
    parent_span_id text NOT NULL DEFAULT '',
    service text NOT NULL,
    name text NOT NULL,
    kind smallint NOT NULL DEFAULT 0,
    start_time timestamptz NOT NULL,
    end_time timestamptz NOT NULL,
    duration_us bigint NOT NULL,
    status smallint NOT NULL DEFAULT 1,
    status_message text NOT NULL DEFAULT '',
    request_id text NOT NULL DEFAULT '',
    attributes jsonb NOT NULL DEFAULT '{}',
    -- An exporter that retries a batch sends the same spans again.
    UNIQUE (trace_id, span_id)
);
CREATE INDEX IF NOT EXISTS telemetry_spans_start_idx ON telemetry_spans (start_time DESC);
CREATE INDEX IF NOT EXISTS telemetry_spans_service_idx ON telemetry_spans (service, start_time DESC);
CREATE INDEX IF NOT EXISTS telemetry_spans_name_idx ON telemetry_spans (name, start_time DESC);
CREATE INDEX IF NOT EXISTS telemetry_spans_request_idx ON telemetry_spans (request_id) WHERE request_id <> '';

CREATE TABLE IF NOT EXISTS telemetry_logs (
    id bigserial PRIMARY KEY,
    time timestamptz NOT NULL,
    service text NOT NULL,
    level smallint NOT NULL,
    logger text NOT NULL DEFAULT '',
    message text NOT NULL,
    request_id text NOT NULL DEFAULT '',
    trace_id text NOT NULL DEFAULT '',
    span_id text NOT NULL DEFAULT '',
    attributes jsonb NOT NULL DEFAULT '{}',
    -- Full-text search of the message. The 'simple' configuration: no stemming or stop words,
    -- which would be English-only; words of every script are matched whole, case-folded.
    search tsvector GENERATED ALWAYS AS (to_tsvector('simple', message)) STORED
);
CREATE INDEX IF NOT EXISTS telemetry_logs_time_idx ON telemetry_logs (time DESC, id DESC);
CREATE INDEX IF NOT EXISTS telemetry_logs_service_idx ON telemetry_logs (service, time DESC);
CREATE INDEX IF NOT EXISTS telemetry_logs_request_idx ON telemetry_logs (request_id) WHERE request_id <> '';
CREATE INDEX IF NOT EXISTS telemetry_logs_trace_idx ON telemetry_logs (trace_id) WHERE trace_id <> '';
CREATE INDEX IF NOT EXISTS telemetry_logs_search_idx ON telemetry_logs USING gin (search);
