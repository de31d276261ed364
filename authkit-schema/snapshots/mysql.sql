CREATE TABLE {users} (
    id BINARY(16) NOT NULL,
    email VARCHAR(254) NOT NULL,
    password_hash TEXT,
    email_verified_at DATETIME(6),
    created_at DATETIME(6) NOT NULL,
    updated_at DATETIME(6) NOT NULL,
    email_lower VARCHAR(254) AS (LOWER(email)) STORED,
    PRIMARY KEY (id),
    UNIQUE KEY {users:email_key} (email_lower)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE {sessions} (
    id BINARY(16) NOT NULL,
    user_id BINARY(16) NOT NULL,
    token_hash BINARY(32) NOT NULL,
    created_at DATETIME(6) NOT NULL,
    last_seen_at DATETIME(6) NOT NULL,
    idle_expires_at DATETIME(6) NOT NULL,
    absolute_expires_at DATETIME(6) NOT NULL,
    payload LONGBLOB,
    PRIMARY KEY (id),
    UNIQUE (token_hash),
    FOREIGN KEY (user_id) REFERENCES {users} (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX {sessions:user_idx} ON {sessions} (user_id);
CREATE INDEX {sessions:idle_idx} ON {sessions} (idle_expires_at);
CREATE INDEX {sessions:absolute_idx} ON {sessions} (absolute_expires_at);

CREATE TABLE {refresh_tokens} (
    id BINARY(16) NOT NULL,
    family_id BINARY(16) NOT NULL,
    user_id BINARY(16) NOT NULL,
    token_hash BINARY(32) NOT NULL,
    audience VARCHAR(255) NOT NULL,
    profile VARCHAR(255),
    chain_started_at DATETIME(6) NOT NULL,
    created_at DATETIME(6) NOT NULL,
    expires_at DATETIME(6) NOT NULL,
    consumed_at DATETIME(6),
    rotations BIGINT NOT NULL DEFAULT 0,
    revoked_at DATETIME(6),
    PRIMARY KEY (id),
    UNIQUE (token_hash),
    FOREIGN KEY (user_id) REFERENCES {users} (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX {refresh_tokens:family_idx} ON {refresh_tokens} (family_id);
CREATE INDEX {refresh_tokens:user_idx} ON {refresh_tokens} (user_id);
CREATE INDEX {refresh_tokens:expires_idx} ON {refresh_tokens} (expires_at);

CREATE TABLE {one_time_tokens} (
    id BINARY(16) NOT NULL,
    user_id BINARY(16) NOT NULL,
    purpose VARCHAR(32) NOT NULL,
    token_hash BINARY(32) NOT NULL,
    created_at DATETIME(6) NOT NULL,
    expires_at DATETIME(6) NOT NULL,
    consumed_at DATETIME(6),
    failed_attempts BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (id),
    UNIQUE (token_hash),
    FOREIGN KEY (user_id) REFERENCES {users} (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX {one_time_tokens:user_idx} ON {one_time_tokens} (user_id, purpose, created_at);
CREATE INDEX {one_time_tokens:expires_idx} ON {one_time_tokens} (expires_at);
CREATE INDEX {one_time_tokens:consumed_idx} ON {one_time_tokens} (consumed_at);

CREATE TABLE {api_keys} (
    id BINARY(16) NOT NULL,
    prefix VARCHAR(64) NOT NULL,
    key_hash BINARY(32) NOT NULL,
    key_type VARCHAR(8) NOT NULL,
    environment VARCHAR(8) NOT NULL,
    owner_id BINARY(16),
    organization_id VARCHAR(255),
    name TEXT NOT NULL,
    description TEXT,
    scopes TEXT NOT NULL,
    allowed_ips TEXT NOT NULL,
    metadata TEXT NOT NULL,
    created_at DATETIME(6) NOT NULL,
    expires_at DATETIME(6),
    revoked_at DATETIME(6),
    revoked_reason TEXT,
    usage_count BIGINT NOT NULL DEFAULT 0,
    last_used_at DATETIME(6),
    last_used_ip VARCHAR(64),
    rate_limit BIGINT NOT NULL DEFAULT 0,
    rate_window_seconds BIGINT NOT NULL DEFAULT 0,
    rate_window_started_at DATETIME(6),
    rate_count BIGINT NOT NULL DEFAULT 0,
    acts_for_user_id BINARY(16),
    last_used_user_agent VARCHAR(256),
    PRIMARY KEY (id),
    UNIQUE (key_hash),
    FOREIGN KEY (owner_id) REFERENCES {users} (id) ON DELETE CASCADE,
    FOREIGN KEY (acts_for_user_id) REFERENCES {users} (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX {api_keys:owner_idx} ON {api_keys} (owner_id, created_at);
CREATE INDEX {api_keys:expires_idx} ON {api_keys} (expires_at);
CREATE INDEX {api_keys:acts_for_idx} ON {api_keys} (acts_for_user_id);

CREATE TABLE {rbac_items} (
    id BINARY(16) NOT NULL,
    kind VARCHAR(16) NOT NULL,
    slug VARCHAR(64) NOT NULL,
    label TEXT NOT NULL,
    PRIMARY KEY (id),
    UNIQUE (kind, slug)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE {role_grants} (
    role_id BINARY(16) NOT NULL,
    item_id BINARY(16) NOT NULL,
    PRIMARY KEY (role_id, item_id),
    FOREIGN KEY (role_id) REFERENCES {rbac_items} (id) ON DELETE CASCADE,
    FOREIGN KEY (item_id) REFERENCES {rbac_items} (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX {role_grants:item_idx} ON {role_grants} (item_id);

CREATE TABLE {user_roles} (
    user_id BINARY(16) NOT NULL,
    role_id BINARY(16) NOT NULL,
    PRIMARY KEY (user_id, role_id),
    FOREIGN KEY (user_id) REFERENCES {users} (id) ON DELETE CASCADE,
    FOREIGN KEY (role_id) REFERENCES {rbac_items} (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX {user_roles:role_idx} ON {user_roles} (role_id);

CREATE TABLE {user_grants} (
    user_id BINARY(16) NOT NULL,
    item_id BINARY(16) NOT NULL,
    PRIMARY KEY (user_id, item_id),
    FOREIGN KEY (user_id) REFERENCES {users} (id) ON DELETE CASCADE,
    FOREIGN KEY (item_id) REFERENCES {rbac_items} (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX {user_grants:item_idx} ON {user_grants} (item_id);

CREATE TABLE {api_key_roles} (
    key_id BINARY(16) NOT NULL,
    role_id BINARY(16) NOT NULL,
    PRIMARY KEY (key_id, role_id),
    FOREIGN KEY (key_id) REFERENCES {api_keys} (id) ON DELETE CASCADE,
    FOREIGN KEY (role_id) REFERENCES {rbac_items} (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX {api_key_roles:role_idx} ON {api_key_roles} (role_id);

