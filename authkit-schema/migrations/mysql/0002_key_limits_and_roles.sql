ALTER TABLE {api_keys}
    ADD COLUMN rate_limit BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN rate_window_seconds BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN rate_window_started_at DATETIME(6),
    ADD COLUMN rate_count BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN acts_for_user_id BINARY(16),
    ADD COLUMN last_used_user_agent VARCHAR(256);
CREATE INDEX {api_keys:acts_for_idx} ON {api_keys} (acts_for_user_id);
ALTER TABLE {api_keys}
    ADD FOREIGN KEY (acts_for_user_id) REFERENCES {users} (id) ON DELETE CASCADE;

CREATE TABLE {api_key_roles} (
    key_id BINARY(16) NOT NULL,
    role_id BINARY(16) NOT NULL,
    PRIMARY KEY (key_id, role_id),
    FOREIGN KEY (key_id) REFERENCES {api_keys} (id) ON DELETE CASCADE,
    FOREIGN KEY (role_id) REFERENCES {rbac_items} (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX {api_key_roles:role_idx} ON {api_key_roles} (role_id);
