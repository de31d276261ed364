ALTER TABLE {api_keys}
    ADD COLUMN rate_limit bigint NOT NULL DEFAULT 0,
    ADD COLUMN rate_window_seconds bigint NOT NULL DEFAULT 0,
    ADD COLUMN rate_window_started_at timestamptz,
    ADD COLUMN rate_count bigint NOT NULL DEFAULT 0,
    ADD COLUMN acts_for_user_id uuid,
    ADD COLUMN last_used_user_agent text,
    ADD FOREIGN KEY (acts_for_user_id) REFERENCES {users} (id) ON DELETE CASCADE;
CREATE INDEX {api_keys:acts_for_idx} ON {api_keys} (acts_for_user_id);

CREATE TABLE {api_key_roles} (
    key_id uuid NOT NULL,
    role_id uuid NOT NULL,
    PRIMARY KEY (key_id, role_id),
    FOREIGN KEY (key_id) REFERENCES {api_keys} (id) ON DELETE CASCADE,
    FOREIGN KEY (role_id) REFERENCES {rbac_items} (id) ON DELETE CASCADE
);
CREATE INDEX {api_key_roles:role_idx} ON {api_key_roles} (role_id);
