-- Leases on what one node at a time may do (schedules, pollers, channel renewals), and the nodes
-- that share the store with when each was last seen.
CREATE TABLE leases (
    name TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    until BIGINT NOT NULL
);

-- Settings every node shares: `sealing_key`, the id of the master key new values are sealed with.
CREATE TABLE settings (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE nodes (
    id TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    version TEXT NOT NULL,
    key_ids TEXT NOT NULL,
    started_at BIGINT NOT NULL,
    seen_at BIGINT NOT NULL
);


-- Every node follows shared state: a change of activations (deploys, rollbacks, pauses),
-- environments, config values or settings, by any node or by hand, is announced on this schema's channel.
CREATE FUNCTION onset_state_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify(left('onset_state_' || TG_TABLE_SCHEMA, 63), TG_TABLE_NAME);
    RETURN NULL;
END
$$;

CREATE TRIGGER activations_changed AFTER INSERT OR UPDATE OR DELETE ON activations
    FOR EACH STATEMENT EXECUTE FUNCTION onset_state_changed();
CREATE TRIGGER environments_changed AFTER INSERT OR UPDATE OR DELETE ON environments
    FOR EACH STATEMENT EXECUTE FUNCTION onset_state_changed();
CREATE TRIGGER settings_changed AFTER INSERT OR UPDATE OR DELETE ON settings
    FOR EACH STATEMENT EXECUTE FUNCTION onset_state_changed();
CREATE TRIGGER config_values_changed AFTER INSERT OR UPDATE OR DELETE ON config_values
    FOR EACH STATEMENT EXECUTE FUNCTION onset_state_changed();
