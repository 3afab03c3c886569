-- Files a component refers to (script_file), as a JSON object of path -> text, so a build can be
-- rebuilt from the store alone.
ALTER TABLE deployments ADD COLUMN files TEXT NOT NULL DEFAULT '{}';
