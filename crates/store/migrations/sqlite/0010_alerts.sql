-- Operational alerts: raised once per key while unresolved, delivered to the alert webhook once.
CREATE TABLE alerts (
    id              TEXT PRIMARY KEY,
    kind            TEXT NOT NULL,
    key             TEXT NOT NULL,
    component       TEXT,
    environment     TEXT,
    message         TEXT NOT NULL,
    detail          TEXT NOT NULL,
    raised_at       INTEGER NOT NULL,
    resolved_at     INTEGER,
    delivered_at    INTEGER,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    last_error      TEXT
);
CREATE UNIQUE INDEX alerts_open ON alerts (key) WHERE resolved_at IS NULL;
CREATE INDEX alerts_undelivered ON alerts (next_attempt_at) WHERE delivered_at IS NULL;
