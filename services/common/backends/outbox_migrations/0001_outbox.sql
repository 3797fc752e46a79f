-- The transactional outbox: events written in the same transaction as the change they report,
-- published to Kafka by the relay (services/events), which sets sent_time once the broker acked.
CREATE TABLE IF NOT EXISTS event_outbox (
    id uuid PRIMARY KEY,
    topic text NOT NULL,
    message_key text NOT NULL DEFAULT '',
    payload bytea NOT NULL,  -- a serialized ai4vc.events.v1.Event
    created_time timestamptz NOT NULL DEFAULT now(),
    sent_time timestamptz NULL
);
-- What the relay claims: only the unsent rows, oldest first (sent rows are not indexed).
CREATE INDEX IF NOT EXISTS event_outbox_unsent_idx ON event_outbox (created_time) WHERE sent_time IS NULL;
