-- API keys: only a SHA-256 of the secret is stored (keys are 256-bit random, so a fast hash
-- suffices); the prefix before the dot is public and identifies the key.
CREATE TABLE laurel.api_keys (
    id             uuid        PRIMARY KEY,
    prefix         text        NOT NULL UNIQUE,
    secret_sha256  bytea       NOT NULL,
    kind           text        NOT NULL CHECK (kind IN ('admin', 'application')),
    tenant         text,
    user_id        text,
    status         text        NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'revoked')),
    created        timestamptz NOT NULL DEFAULT now(),
    CHECK ((kind = 'admin') = (user_id IS NULL))
);

-- Tenants addressed by the Tenant-ID header (your customerId). Requests without the header
-- use the default tenant, which is always there.
CREATE TABLE laurel.tenants (
    id           uuid        PRIMARY KEY,
    customer_id  text        NOT NULL UNIQUE,
    name         text        NOT NULL,
    status       text        NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'archived')),
    created      timestamptz NOT NULL,
    updated      timestamptz NOT NULL
);
