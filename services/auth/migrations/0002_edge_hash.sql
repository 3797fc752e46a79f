-- The edge's copy of each key's hash: htpasswd {SHA} (base64 SHA-1 of the secret), which Envoy's
-- basic_auth checks itself (services.common.credentials.edge_hash says why unsalted SHA-1 is safe
-- for 256-bit random secrets). Computed when a key is created or rotated. Keys made before this
-- migration have '' and are refused at the edge until rotated (their secret is not stored, so
-- their hash cannot be computed) — except the bootstrap admin key, which the auth service
-- re-hashes from its key file at start.
ALTER TABLE api_keys ADD COLUMN IF NOT EXISTS edge_hash text NOT NULL DEFAULT '';
