-- Metric roll-ups: counters per component, environment and handler ('' for what concerns the
-- component as a whole: events received, queue depth) per bucket of `resolution` ms.
CREATE TABLE rollups (
    resolution  INTEGER NOT NULL,
    start       INTEGER NOT NULL,
    component   TEXT NOT NULL,
    environment TEXT NOT NULL,
    handler     TEXT NOT NULL,
    counts      TEXT NOT NULL,   -- JSON object; merged as numbers add, arrays add, "max" keeps the larger
    PRIMARY KEY (resolution, component, environment, handler, start)
) WITHOUT ROWID;
CREATE INDEX rollups_time ON rollups (resolution, start);
