-- Environments in promotion order.
CREATE TABLE environments (
    name       TEXT PRIMARY KEY,
    position   INTEGER NOT NULL,
    created_at INTEGER NOT NULL
);
INSERT INTO environments (name, position, created_at) VALUES ('development', 1, 0), ('production', 2, 0);

-- Config values set per component and environment. Every value is sealed (AEAD) under the
-- master key; `key_id` names the key that sealed it.
CREATE TABLE config_values (
    component   TEXT NOT NULL,
    environment TEXT NOT NULL,
    key         TEXT NOT NULL,
    sealed      TEXT NOT NULL,
    key_id      TEXT NOT NULL,
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (component, environment, key)
) WITHOUT ROWID;
