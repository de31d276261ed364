ALTER TABLE {api_keys} ADD COLUMN rate_limit INTEGER NOT NULL DEFAULT 0;
ALTER TABLE {api_keys} ADD COLUMN rate_window_seconds INTEGER NOT NULL DEFAULT 0;
ALTER TABLE {api_keys} ADD COLUMN rate_window_started_at INTEGER;
ALTER TABLE {api_keys} ADD COLUMN rate_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE {api_keys} ADD COLUMN acts_for_user_id BLOB REFERENCES {users} (id) ON DELETE CASCADE;
ALTER TABLE {api_keys} ADD COLUMN last_used_user_agent TEXT;
CREATE INDEX {api_keys:acts_for_idx} ON {api_keys} (acts_for_user_id);

CREATE TABLE {api_key_roles} (
    key_id BLOB NOT NULL,
    role_id BLOB NOT NULL,
    PRIMARY KEY (key_id, role_id),
    FOREIGN KEY (key_id) REFERENCES {api_keys} (id) ON DELETE CASCADE,
    FOREIGN KEY (role_id) REFERENCES {rbac_items} (id) ON DELETE CASCADE
);
CREATE INDEX {api_key_roles:role_idx} ON {api_key_roles} (role_id);
