-- One row rewritten to learn whether the data directory's disk takes writes again after it was full.
CREATE TABLE disk_probe (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    at INTEGER NOT NULL
);
