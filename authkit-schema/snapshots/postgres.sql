CREATE TABLE {users} (
    id uuid NOT NULL,
    email text NOT NULL,
    password_hash text,
    email_verified_at timestamptz,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (id)
);
CREATE UNIQUE INDEX {users:email_key} ON {users} (lower(email));

CREATE TABLE {sessions} (
    id uuid NOT NULL,
    user_id uuid NOT NULL,
    token_hash bytea NOT NULL,
    created_at timestamptz NOT NULL,
    last_seen_at timestamptz NOT NULL,
    idle_expires_at timestamptz NOT NULL,
    absolute_expires_at timestamptz NOT NULL,
    payload bytea,
    PRIMARY KEY (id),
    UNIQUE (token_hash),
    FOREIGN KEY (user_id) REFERENCES {users} (id) ON DELETE CASCADE
);
CREATE INDEX {sessions:user_idx} ON {sessions} (user_id);
CREATE INDEX {sessions:idle_idx} ON {sessions} (idle_expires_at);
CREATE INDEX {sessions:absolute_idx} ON {sessions} (absolute_expires_at);

CREATE TABLE {refresh_tokens} (
    id uuid NOT NULL,
    family_id uuid NOT NULL,
    user_id uuid NOT NULL,
    token_hash bytea NOT NULL,
    audience text NOT NULL,
    profile text,
    chain_started_at timestamptz NOT NULL,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    consumed_at timestamptz,
    rotations bigint NOT NULL DEFAULT 0,
    revoked_at timestamptz,
    PRIMARY KEY (id),
    UNIQUE (token_hash),
    FOREIGN KEY (user_id) REFERENCES {users} (id) ON DELETE CASCADE
);
CREATE INDEX {refresh_tokens:family_idx} ON {refresh_tokens} (family_id);
CREATE INDEX {refresh_tokens:user_idx} ON {refresh_tokens} (user_id);
CREATE INDEX {refresh_tokens:expires_idx} ON {refresh_tokens} (expires_at);

CREATE TABLE {one_time_tokens} (
    id uuid NOT NULL,
    user_id uuid NOT NULL,
    purpose text NOT NULL,
    token_hash bytea NOT NULL,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    consumed_at timestamptz,
    failed_attempts bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (id),
    UNIQUE (token_hash),
    FOREIGN KEY (user_id) REFERENCES {users} (id) ON DELETE CASCADE
);
CREATE INDEX {one_time_tokens:user_idx} ON {one_time_tokens} (user_id, purpose, created_at);
CREATE INDEX {one_time_tokens:expires_idx} ON {one_time_tokens} (expires_at);
CREATE INDEX {one_time_tokens:consumed_idx} ON {one_time_tokens} (consumed_at);

CREATE TABLE {api_keys} (
    id uuid NOT NULL,
    prefix text NOT NULL,
    key_hash bytea NOT NULL,
    key_type text NOT NULL,
    environment text NOT NULL,
    owner_id uuid,
    organization_id text,
    name text NOT NULL,
    description text,
    scopes text NOT NULL,
    allowed_ips text NOT NULL,
    metadata text NOT NULL,
    created_at timestamptz NOT NULL,
    expires_at timestamptz,
    revoked_at timestamptz,
    revoked_reason text,
    usage_count bigint NOT NULL DEFAULT 0,
    last_used_at timestamptz,
    last_used_ip text,
    rate_limit bigint NOT NULL DEFAULT 0,
    rate_window_seconds bigint NOT NULL DEFAULT 0,
    rate_window_started_at timestamptz,
    rate_count bigint NOT NULL DEFAULT 0,
    acts_for_user_id uuid,
    last_used_user_agent text,
    PRIMARY KEY (id),
    UNIQUE (key_hash),
    FOREIGN KEY (owner_id) REFERENCES {users} (id) ON DELETE CASCADE,
    FOREIGN KEY (acts_for_user_id) REFERENCES {users} (id) ON DELETE CASCADE
);
CREATE INDEX {api_keys:owner_idx} ON {api_keys} (owner_id, created_at);
CREATE INDEX {api_keys:expires_idx} ON {api_keys} (expires_at);
CREATE INDEX {api_keys:acts_for_idx} ON {api_keys} (acts_for_user_id);

CREATE TABLE {rbac_items} (
    id uuid NOT NULL,
    kind text NOT NULL,
    slug text NOT NULL,
    label text NOT NULL,
    PRIMARY KEY (id),
    UNIQUE (kind, slug)
);

CREATE TABLE {role_grants} (
    role_id uuid NOT NULL,
    item_id uuid NOT NULL,
    PRIMARY KEY (role_id, item_id),
    FOREIGN KEY (role_id) REFERENCES {rbac_items} (id) ON DELETE CASCADE,
    FOREIGN KEY (item_id) REFERENCES {rbac_items} (id) ON DELETE CASCADE
);
CREATE INDEX {role_grants:item_idx} ON {role_grants} (item_id);

CREATE TABLE {user_roles} (
    user_id uuid NOT NULL,
    role_id uuid NOT NULL,
    PRIMARY KEY (user_id, role_id),
    FOREIGN KEY (user_id) REFERENCES {users} (id) ON DELETE CASCADE,
    FOREIGN KEY (role_id) REFERENCES {rbac_items} (id) ON DELETE CASCADE
);
CREATE INDEX {user_roles:role_idx} ON {user_roles} (role_id);

CREATE TABLE {user_grants} (
    user_id uuid NOT NULL,
    item_id uuid NOT NULL,
    PRIMARY KEY (user_id, item_id),
    FOREIGN KEY (user_id) REFERENCES {users} (id) ON DELETE CASCADE,
    FOREIGN KEY (item_id) REFERENCES {rbac_items} (id) ON DELETE CASCADE
);
CREATE INDEX {user_grants:item_idx} ON {user_grants} (item_id);

CREATE TABLE {api_key_roles} (
    key_id uuid NOT NULL,
    role_id uuid NOT NULL,
    PRIMARY KEY (key_id, role_id),
    FOREIGN KEY (key_id) REFERENCES {api_keys} (id) ON DELETE CASCADE,
    FOREIGN KEY (role_id) REFERENCES {rbac_items} (id) ON DELETE CASCADE
);
CREATE INDEX {api_key_roles:role_idx} ON {api_key_roles} (role_id);

