-- What a step wrote while it ran (a script's console), as a JSON array of lines.
ALTER TABLE steps ADD COLUMN logs TEXT;
