-- API management: plans, consumers' applications and their keys (hashes only), subscriptions.
CREATE TABLE plans (
    name TEXT PRIMARY KEY,
    rate_limit TEXT,
    daily_quota BIGINT,
    monthly_quota BIGINT,
    created_at BIGINT NOT NULL
);
-- WSO2 API Manager's subscription tiers.
INSERT INTO plans (name, rate_limit, daily_quota, monthly_quota, created_at) VALUES
    ('Bronze', '1000/m', NULL, NULL, 0),
    ('Silver', '2000/m', NULL, NULL, 0),
    ('Gold', '5000/m', NULL, NULL, 0),
    ('Unlimited', NULL, NULL, NULL, 0);

CREATE TABLE applications (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    owner TEXT NOT NULL,
    client_id TEXT NOT NULL UNIQUE,
    secret_hash TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX applications_owner ON applications (owner);

CREATE TABLE api_keys (
    hash TEXT PRIMARY KEY,
    application_id TEXT NOT NULL REFERENCES applications (id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    prefix TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE INDEX api_keys_application ON api_keys (application_id);

CREATE TABLE subscriptions (
    id TEXT PRIMARY KEY,
    application_id TEXT NOT NULL REFERENCES applications (id) ON DELETE CASCADE,
    component TEXT NOT NULL,
    environment TEXT NOT NULL,
    plan TEXT NOT NULL REFERENCES plans (name),
    created_at BIGINT NOT NULL,
    UNIQUE (application_id, component, environment)
);
CREATE INDEX subscriptions_api ON subscriptions (component, environment);
