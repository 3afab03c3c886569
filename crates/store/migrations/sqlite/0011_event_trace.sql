-- The W3C traceparent of the span that ingested an event, so its runs join the same trace.
ALTER TABLE events ADD COLUMN trace TEXT;
