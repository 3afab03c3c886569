-- Requests of a rate-limit window taken by the nodes, for limits that hold across nodes.
CREATE TABLE quota_counts (
    key TEXT NOT NULL,
    window_start INTEGER NOT NULL,
    taken INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (key, window_start)
);
