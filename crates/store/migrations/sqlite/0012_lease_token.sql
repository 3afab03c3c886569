-- The token of the lease a running run is held with: a completion must show it, so an attempt
-- whose lease expired (and whose run was taken again) cannot overwrite the newer attempt.
ALTER TABLE runs ADD COLUMN lease_token TEXT;
