-- Every accepted Synthesize, StreamingSynthesize and BidiStreamingSynthesize call.
CREATE TABLE IF NOT EXISTS tts_requests (
    id uuid PRIMARY KEY,
    request_id text NOT NULL,
    created_time timestamptz NOT NULL,
    principal text NOT NULL DEFAULT '',
    method text NOT NULL,
    voice text NOT NULL,
    language text NOT NULL,
    characters integer NOT NULL,
    audio_seconds double precision NOT NULL,
    encoding text NOT NULL,
    status text NOT NULL,
    latency_ms double precision NOT NULL
);
CREATE INDEX IF NOT EXISTS tts_requests_created_time_idx ON tts_requests (created_time);
