-- The PostgreSQL schema: the same tables as SQLite's migrations arrive at, in one step.
-- Times are unix milliseconds (BIGINT), JSON is kept as text as the application wrote it.

CREATE TABLE deployments (
    id          TEXT PRIMARY KEY,
    component   TEXT NOT NULL,
    environment TEXT NOT NULL,
    build       TEXT NOT NULL,
    source      TEXT NOT NULL,
    files       TEXT NOT NULL DEFAULT '{}',
    created_at  BIGINT NOT NULL,
    status      TEXT NOT NULL DEFAULT 'active',
    error       TEXT,
    meta        TEXT NOT NULL DEFAULT '{}',
    created_by  TEXT
);
CREATE INDEX deployments_component ON deployments (component, environment, created_at);

CREATE TABLE activations (
    component     TEXT NOT NULL,
    environment   TEXT NOT NULL,
    deployment_id TEXT NOT NULL,
    paused        BOOLEAN NOT NULL DEFAULT FALSE,
    PRIMARY KEY (component, environment)
);

CREATE TABLE events (
    id            TEXT PRIMARY KEY,
    component     TEXT NOT NULL,
    environment   TEXT NOT NULL,
    channel       TEXT NOT NULL,
    event         TEXT NOT NULL,
    delivery_id   TEXT,
    received_at   BIGINT NOT NULL,
    headers       TEXT NOT NULL,
    query         TEXT NOT NULL,
    params        TEXT NOT NULL,
    payload       BYTEA NOT NULL,  -- JSON text, as bytes
    status        TEXT NOT NULL,
    trace         TEXT
);
CREATE UNIQUE INDEX events_delivery ON events (component, environment, delivery_id) WHERE delivery_id IS NOT NULL;
CREATE INDEX events_component ON events (component, id);

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
    attempt       BIGINT NOT NULL,
    max_attempts  BIGINT NOT NULL,
    run_at        BIGINT NOT NULL,
    lease_until   BIGINT,
    lease_token   TEXT,
    created_at    BIGINT NOT NULL,
    started_at    BIGINT,
    finished_at   BIGINT,
    error         TEXT,
    error_step    TEXT,
    replay_of     TEXT,
    replayed      BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX runs_pending ON runs (run_at, id) WHERE status IN ('queued', 'retrying');
CREATE INDEX runs_running ON runs (status) WHERE status = 'running';
CREATE INDEX runs_component ON runs (component, id);
CREATE INDEX runs_event ON runs (event_id);
CREATE INDEX runs_dead ON runs (component, environment) WHERE status = 'dead' AND NOT replayed;

CREATE TABLE steps (
    run_id      TEXT NOT NULL,
    attempt     BIGINT NOT NULL,
    seq         BIGINT NOT NULL,
    path        TEXT NOT NULL,
    step_id     TEXT,
    name        TEXT,
    type        TEXT NOT NULL,
    status      TEXT NOT NULL,
    input       TEXT,
    output      TEXT,
    error       TEXT,
    started_at  BIGINT NOT NULL,
    duration_ms DOUBLE PRECISION NOT NULL,
    logs        TEXT,
    PRIMARY KEY (run_id, attempt, seq)
);

CREATE TABLE trigger_state (
    component   TEXT NOT NULL,
    environment TEXT NOT NULL,
    key         TEXT NOT NULL,
    value       TEXT NOT NULL,
    PRIMARY KEY (component, environment, key)
);

CREATE TABLE calendar_items (
    component   TEXT NOT NULL,
    environment TEXT NOT NULL,
    item_id     TEXT NOT NULL,
    etag        TEXT NOT NULL,
    PRIMARY KEY (component, environment, item_id)
);

CREATE TABLE deployment_logs (
    seq           BIGSERIAL PRIMARY KEY,
    deployment_id TEXT NOT NULL,
    at            BIGINT NOT NULL,
    message       TEXT NOT NULL
);
CREATE INDEX deployment_logs_deployment ON deployment_logs (deployment_id, at, seq);

CREATE TABLE tokens (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    hash        TEXT NOT NULL UNIQUE,
    role        TEXT NOT NULL,
    can_promote BOOLEAN NOT NULL DEFAULT FALSE,
    created_at  BIGINT NOT NULL,
    revoked_at  BIGINT
);

CREATE TABLE audit (
    id      TEXT PRIMARY KEY,
    at      BIGINT NOT NULL,
    actor   TEXT NOT NULL,
    action  TEXT NOT NULL,
    target  TEXT NOT NULL,
    detail  TEXT NOT NULL
);

CREATE TABLE environments (
    name       TEXT PRIMARY KEY,
    position   BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
INSERT INTO environments (name, position, created_at) VALUES ('development', 1, 0), ('production', 2, 0);

CREATE TABLE config_values (
    component   TEXT NOT NULL,
    environment TEXT NOT NULL,
    key         TEXT NOT NULL,
    sealed      TEXT NOT NULL,
    key_id      TEXT NOT NULL,
    updated_at  BIGINT NOT NULL,
    PRIMARY KEY (component, environment, key)
);

CREATE TABLE disk_probe (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    at BIGINT NOT NULL
);

CREATE TABLE rollups (
    resolution  BIGINT NOT NULL,
    start       BIGINT NOT NULL,
    component   TEXT NOT NULL,
    environment TEXT NOT NULL,
    handler     TEXT NOT NULL,
    counts      TEXT NOT NULL,
    PRIMARY KEY (resolution, component, environment, handler, start)
);
CREATE INDEX rollups_time ON rollups (resolution, start);

CREATE TABLE alerts (
    id              TEXT PRIMARY KEY,
    kind            TEXT NOT NULL,
    key             TEXT NOT NULL,
    component       TEXT,
    environment     TEXT,
    message         TEXT NOT NULL,
    detail          TEXT NOT NULL,
    raised_at       BIGINT NOT NULL,
    resolved_at     BIGINT,
    delivered_at    BIGINT,
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    last_error      TEXT
);
CREATE UNIQUE INDEX alerts_open ON alerts (key) WHERE resolved_at IS NULL;
CREATE INDEX alerts_undelivered ON alerts (next_attempt_at) WHERE delivered_at IS NULL;
