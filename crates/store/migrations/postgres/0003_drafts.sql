-- The web UI's draft of each component's source (server mode): saved revisions replace each
-- other; deploys take the text from here.
CREATE TABLE drafts (
    component TEXT PRIMARY KEY,
    text TEXT NOT NULL,
    revision BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    updated_by TEXT NOT NULL
);
