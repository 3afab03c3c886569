-- Builds of components; the source is kept so retries run on the build that accepted the event.
CREATE TABLE deployments (
    id          TEXT PRIMARY KEY,
    component   TEXT NOT NULL,
    environment TEXT NOT NULL,
    build       TEXT NOT NULL,
    source      TEXT NOT NULL,
    created_at  INTEGER NOT NULL
);
CREATE INDEX deployments_component ON deployments (component, environment, created_at);

-- Per component and environment: the active deployment and whether runs are paused.
CREATE TABLE activations (
    component     TEXT NOT NULL,
    environment   TEXT NOT NULL,
    deployment_id TEXT NOT NULL,
    paused        INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (component, environment)
);

CREATE TABLE events (
    id            TEXT PRIMARY KEY,
    component     TEXT NOT NULL,
    environment   TEXT NOT NULL,
    channel       TEXT NOT NULL,
    event         TEXT NOT NULL,
    delivery_id   TEXT,
    received_at   INTEGER NOT NULL,
    headers       TEXT NOT NULL,
    query         TEXT NOT NULL,
    params        TEXT NOT NULL,
    payload       BLOB NOT NULL,  -- JSON text, as bytes
    status        TEXT NOT NULL
);
CREATE UNIQUE INDEX events_delivery ON events (component, environment, delivery_id) WHERE delivery_id IS NOT NULL;
CREATE INDEX events_component ON events (component, id);

-- A run is one handler for one event; it is also the job the workers claim.
CREATE TABLE runs (
    id            TEXT PRIMARY KEY,
    event_id      TEXT NOT NULL REFERENCES events (id),
    component     TEXT NOT NULL,
    environment   TEXT NOT NULL,
    channel       TEXT NOT NULL,
    event         TEXT NOT NULL,
    handler       TEXT NOT NULL,
    deployment_id TEXT NOT NULL,
    status        TEXT NOT NULL,
    attempt       INTEGER NOT NULL,
    max_attempts  INTEGER NOT NULL,
    run_at        INTEGER NOT NULL,
    lease_until   INTEGER,
    created_at    INTEGER NOT NULL,
    started_at    INTEGER,
    finished_at   INTEGER,
    error         TEXT,
    error_step    TEXT,
    replay_of     TEXT,
    replayed      INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX runs_pending ON runs (status) WHERE status IN ('queued', 'retrying', 'running');
CREATE INDEX runs_component ON runs (component, id);
CREATE INDEX runs_event ON runs (event_id);
CREATE INDEX runs_dead ON runs (component, environment) WHERE status = 'dead' AND replayed = 0;

CREATE TABLE steps (
    run_id      TEXT NOT NULL,
    attempt     INTEGER NOT NULL,
    seq         INTEGER NOT NULL,
    path        TEXT NOT NULL,
    step_id     TEXT,
    name        TEXT,
    type        TEXT NOT NULL,
    status      TEXT NOT NULL,
    input       TEXT,
    output      TEXT,
    error       TEXT,
    started_at  INTEGER NOT NULL,
    duration_ms REAL NOT NULL,
    PRIMARY KEY (run_id, attempt, seq)
) WITHOUT ROWID;
