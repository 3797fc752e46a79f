-- Every accepted Recognize and StreamingRecognize call, its per-utterance results, and the
-- audio of callers who opted in with store_audio.
CREATE TABLE IF NOT EXISTS asr_requests (
    id uuid PRIMARY KEY,
    request_id text NOT NULL,
    created_time timestamptz NOT NULL,
    principal text NOT NULL DEFAULT '',
    method text NOT NULL,
    model text NOT NULL,
    language text NOT NULL,
    audio_seconds double precision NOT NULL,
    encoding text NOT NULL,
    sample_rate_hertz integer NOT NULL,
    status text NOT NULL,
    latency_ms double precision NOT NULL
);
CREATE INDEX IF NOT EXISTS asr_requests_created_time_idx ON asr_requests (created_time);

CREATE TABLE IF NOT EXISTS asr_results (
    request_uuid uuid NOT NULL REFERENCES asr_requests (id) ON DELETE CASCADE,
    utterance_index integer NOT NULL,
    transcript text NOT NULL,
    confidence double precision NOT NULL,
    words jsonb NOT NULL,
    PRIMARY KEY (request_uuid, utterance_index)
);

CREATE TABLE IF NOT EXISTS asr_audio (
    request_uuid uuid PRIMARY KEY REFERENCES asr_requests (id) ON DELETE CASCADE,
    encoding text NOT NULL,
    sample_rate_hertz integer NOT NULL,
    truncated boolean NOT NULL,
    content bytea NOT NULL
);
