-- Requests of a rate-limit window taken by the nodes, for limits that hold across nodes.
CREATE TABLE quota_counts (
    key TEXT NOT NULL,
    window_start BIGINT NOT NULL,
    taken BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (key, window_start)
);
CREATE INDEX quota_counts_expires ON quota_counts (expires_at);
