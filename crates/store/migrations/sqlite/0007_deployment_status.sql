-- A deployment ends `active` (it became the active one; later ones supersede it but it stays a
-- rollback target) or `failed` with the reason; `meta` keeps where the build came from (git).
ALTER TABLE deployments ADD COLUMN status TEXT NOT NULL DEFAULT 'active';
ALTER TABLE deployments ADD COLUMN error TEXT;
ALTER TABLE deployments ADD COLUMN meta TEXT NOT NULL DEFAULT '{}';
ALTER TABLE deployments ADD COLUMN created_by TEXT;
