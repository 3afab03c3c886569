-- Developer-portal accounts (separate from control-plane tokens); passwords as salted PBKDF2.
CREATE TABLE consumers (
    id TEXT PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
