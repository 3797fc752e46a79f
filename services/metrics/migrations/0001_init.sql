-- Usage rollups per minute and per UTC day, the events already counted, and the consumer's
-- Kafka offsets: all written in one transaction per batch of events (exactly-once effect).
-- Metered usage (ai4vc.usage events) has rows of its own with request_count 0 and empty
-- method / language_code / model; status is the call's outcome ("OK" or an error reason).
CREATE TABLE IF NOT EXISTS usage_rollups_minute (
    bucket_start timestamptz NOT NULL,
    key_id text NOT NULL,
    principal text NOT NULL,
    service text NOT NULL,
    method text NOT NULL,
    language_code text NOT NULL,
    model text NOT NULL,
    status text NOT NULL,
    request_count bigint NOT NULL DEFAULT 0,
    characters bigint NOT NULL DEFAULT 0,
    audio_seconds double precision NOT NULL DEFAULT 0,
    metered_characters bigint NOT NULL DEFAULT 0,
    metered_audio_seconds double precision NOT NULL DEFAULT 0,
    latency_seconds double precision NOT NULL DEFAULT 0,
    -- Calls per latency bucket (services/metrics/records.py LATENCY_BOUNDS_S, then +Inf).
    latency_buckets bigint[] NOT NULL,
    PRIMARY KEY (bucket_start, key_id, principal, service, method, language_code, model, status)
);
CREATE INDEX IF NOT EXISTS usage_rollups_minute_key_idx ON usage_rollups_minute (key_id, bucket_start);
CREATE INDEX IF NOT EXISTS usage_rollups_minute_principal_idx ON usage_rollups_minute (principal, bucket_start);

CREATE TABLE IF NOT EXISTS usage_rollups_day (LIKE usage_rollups_minute INCLUDING ALL);

-- Event ids already in the rollups (delivery is at least once). Kept for a while after the
-- offsets moved past them: long enough for any redelivery (a broker that lost its log).
CREATE TABLE IF NOT EXISTS metrics_processed_events (
    event_id uuid PRIMARY KEY,
    processed_time timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS metrics_processed_events_time_idx ON metrics_processed_events (processed_time);

-- Next offset to read per partition, committed with the rollups it produced.
CREATE TABLE IF NOT EXISTS metrics_consumer_offsets (
    consumer text NOT NULL,
    topic text NOT NULL,
    partition integer NOT NULL,
    next_offset bigint NOT NULL,
    update_time timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, topic, partition)
);
