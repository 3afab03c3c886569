-- What a trigger keeps per component and environment across deployments: the GitHub hook id,
-- the Google channel and its sync token (JSON values by key).
CREATE TABLE trigger_state (
    component   TEXT NOT NULL,
    environment TEXT NOT NULL,
    key         TEXT NOT NULL,
    value       TEXT NOT NULL,
    PRIMARY KEY (component, environment, key)
) WITHOUT ROWID;

-- Calendar events seen by a google-calendar trigger, with their etags (changes and deletions
-- are found by comparing against these).
CREATE TABLE calendar_items (
    component   TEXT NOT NULL,
    environment TEXT NOT NULL,
    item_id     TEXT NOT NULL,
    etag        TEXT NOT NULL,
    PRIMARY KEY (component, environment, item_id)
) WITHOUT ROWID;

-- What a deployment did beyond activating the build (registrations with providers).
CREATE TABLE deployment_logs (
    deployment_id TEXT NOT NULL,
    at            INTEGER NOT NULL,
    message       TEXT NOT NULL
);
CREATE INDEX deployment_logs_deployment ON deployment_logs (deployment_id, at);
