-- Every accepted TranslateText call and its per-text results.
CREATE TABLE IF NOT EXISTS nmt_requests (
    id uuid PRIMARY KEY,
    request_id text NOT NULL,
    created_time timestamptz NOT NULL,
    principal text NOT NULL DEFAULT '',
    model text NOT NULL,
    source_language_code text NOT NULL,
    target_language_code text NOT NULL,
    num_contents integer NOT NULL,
    total_characters integer NOT NULL,
    status text NOT NULL,
    latency_ms double precision NOT NULL
);
CREATE INDEX IF NOT EXISTS nmt_requests_created_time_idx ON nmt_requests (created_time);

CREATE TABLE IF NOT EXISTS nmt_results (
    request_uuid uuid NOT NULL REFERENCES nmt_requests (id) ON DELETE CASCADE,
    item_index integer NOT NULL,
    source_text text NOT NULL,
    translated_text text NOT NULL,
    source_language_code text NOT NULL,
    PRIMARY KEY (request_uuid, item_index)
);
