CREATE TABLE {users} (
    id BLOB NOT NULL,
    email TEXT NOT NULL,
    password_hash TEXT,
    email_verified_at INTEGER,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (id)
);
CREATE UNIQUE INDEX {users:email_key} ON {users} (lower(email));

CREATE TABLE {sessions} (
    id BLOB NOT NULL,
    user_id BLOB NOT NULL,
    token_hash BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    idle_expires_at INTEGER NOT NULL,
    absolute_expires_at INTEGER NOT NULL,
    payload BLOB,
    PRIMARY KEY (id),
    UNIQUE (token_hash),
    FOREIGN KEY (user_id) REFERENCES {users} (id) ON DELETE CASCADE
);
CREATE INDEX {sessions:user_idx} ON {sessions} (user_id);
CREATE INDEX {sessions:idle_idx} ON {sessions} (idle_expires_at);
CREATE INDEX {sessions:absolute_idx} ON {sessions} (absolute_expires_at);

CREATE TABLE {refresh_tokens} (
    id BLOB NOT NULL,
    family_id BLOB NOT NULL,
    user_id BLOB NOT NULL,
    token_hash BLOB NOT NULL,
    audience TEXT NOT NULL,
    profile TEXT,
    chain_started_at INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    consumed_at INTEGER,
    rotations INTEGER NOT NULL DEFAULT 0,
    revoked_at INTEGER,
    PRIMARY KEY (id),
    UNIQUE (token_hash),
    FOREIGN KEY (user_id) REFERENCES {users} (id) ON DELETE CASCADE
);
CREATE INDEX {refresh_tokens:family_idx} ON {refresh_tokens} (family_id);
CREATE INDEX {refresh_tokens:user_idx} ON {refresh_tokens} (user_id);
CREATE INDEX {refresh_tokens:expires_idx} ON {refresh_tokens} (expires_at);

CREATE TABLE {one_time_tokens} (
    id BLOB NOT NULL,
    user_id BLOB NOT NULL,
    purpose TEXT NOT NULL,
    token_hash BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    consumed_at INTEGER,
    failed_attempts INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (id),
    UNIQUE (token_hash),
    FOREIGN KEY (user_id) REFERENCES {users} (id) ON DELETE CASCADE
);
CREATE INDEX {one_time_tokens:user_idx} ON {one_time_tokens} (user_id, purpose, created_at);
CREATE INDEX {one_time_tokens:expires_idx} ON {one_time_tokens} (expires_at);
CREATE INDEX {one_time_tokens:consumed_idx} ON {one_time_tokens} (consumed_at);

CREATE TABLE {api_keys} (
    id BLOB NOT NULL,
    prefix TEXT NOT NULL,
    key_hash BLOB NOT NULL,
    key_type TEXT NOT NULL,
    environment TEXT NOT NULL,
    owner_id BLOB,
    organization_id TEXT,
    name TEXT NOT NULL,
    description TEXT,
    scopes TEXT NOT NULL,
    allowed_ips TEXT NOT NULL,
    metadata TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER,
    revoked_at INTEGER,
    revoked_reason TEXT,
    usage_count INTEGER NOT NULL DEFAULT 0,
    last_used_at INTEGER,
    last_used_ip TEXT,
    rate_limit INTEGER NOT NULL DEFAULT 0,
    rate_window_seconds INTEGER NOT NULL DEFAULT 0,
    rate_window_started_at INTEGER,
    rate_count INTEGER NOT NULL DEFAULT 0,
    acts_for_user_id BLOB,
    last_used_user_agent TEXT,
    PRIMARY KEY (id),
    UNIQUE (key_hash),
    FOREIGN KEY (owner_id) REFERENCES {users} (id) ON DELETE CASCADE,
    FOREIGN KEY (acts_for_user_id) REFERENCES {users} (id) ON DELETE CASCADE
);
CREATE INDEX {api_keys:owner_idx} ON {api_keys} (owner_id, created_at);
CREATE INDEX {api_keys:expires_idx} ON {api_keys} (expires_at);
CREATE INDEX {api_keys:acts_for_idx} ON {api_keys} (acts_for_user_id);

CREATE TABLE {rbac_items} (
    id BLOB NOT NULL,
    kind TEXT NOT NULL,
    slug TEXT NOT NULL,
    label TEXT NOT NULL,
    PRIMARY KEY (id),
    UNIQUE (kind, slug)
);

CREATE TABLE {role_grants} (
    role_id BLOB NOT NULL,
    item_id BLOB NOT NULL,
    PRIMARY KEY (role_id, item_id),
    FOREIGN KEY (role_id) REFERENCES {rbac_items} (id) ON DELETE CASCADE,
    FOREIGN KEY (item_id) REFERENCES {rbac_items} (id) ON DELETE CASCADE
);
CREATE INDEX {role_grants:item_idx} ON {role_grants} (item_id);

CREATE TABLE {user_roles} (
    user_id BLOB NOT NULL,
    role_id BLOB NOT NULL,
    PRIMARY KEY (user_id, role_id),
    FOREIGN KEY (user_id) REFERENCES {users} (id) ON DELETE CASCADE,
    FOREIGN KEY (role_id) REFERENCES {rbac_items} (id) ON DELETE CASCADE
);
CREATE INDEX {user_roles:role_idx} ON {user_roles} (role_id);

CREATE TABLE {user_grants} (
    user_id BLOB NOT NULL,
    item_id BLOB NOT NULL,
    PRIMARY KEY (user_id, item_id),
    FOREIGN KEY (user_id) REFERENCES {users} (id) ON DELETE CASCADE,
    FOREIGN KEY (item_id) REFERENCES {rbac_items} (id) ON DELETE CASCADE
);
CREATE INDEX {user_grants:item_idx} ON {user_grants} (item_id);

CREATE TABLE {api_key_roles} (
    key_id BLOB NOT NULL,
    role_id BLOB NOT NULL,
    PRIMARY KEY (key_id, role_id),
    FOREIGN KEY (key_id) REFERENCES {api_keys} (id) ON DELETE CASCADE,
    FOREIGN KEY (role_id) REFERENCES {rbac_items} (id) ON DELETE CASCADE
);
CREATE INDEX {api_key_roles:role_idx} ON {api_key_roles} (role_id);

