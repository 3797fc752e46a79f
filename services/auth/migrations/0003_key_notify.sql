-- Key and session changes announced by PostgreSQL itself (NOTIFY, delivered at commit), so the
-- edge's control plane hears of a key created, rotated or revoked — or a session logged out —
-- while Redis (whose pub/sub carries the same news) is frozen or down. The payload is
-- `<schema>:<id>`: a channel is per database, and a listener keeps its own schema's changes.
CREATE OR REPLACE FUNCTION ai4vc_notify_key_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('ai4vc_key_changed', TG_TABLE_SCHEMA || ':' || COALESCE(NEW.key_id, OLD.key_id));
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION ai4vc_notify_session_revoked() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('ai4vc_session_revoked', TG_TABLE_SCHEMA || ':' || NEW.session_id);
    RETURN NULL;
END $$;

DROP TRIGGER IF EXISTS api_keys_notify ON api_keys;
CREATE TRIGGER api_keys_notify AFTER INSERT OR UPDATE OR DELETE ON api_keys
    FOR EACH ROW EXECUTE FUNCTION ai4vc_notify_key_change();

DROP TRIGGER IF EXISTS sessions_revoked_notify ON sessions;
CREATE TRIGGER sessions_revoked_notify AFTER UPDATE OF revoke_time ON sessions
    FOR EACH ROW WHEN (NEW.revoke_time IS NOT NULL AND OLD.revoke_time IS DISTINCT FROM NEW.revoke_time)
    EXECUTE FUNCTION ai4vc_notify_session_revoked();
