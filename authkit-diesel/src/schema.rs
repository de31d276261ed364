//! Diesel's `table!` for every authkit table, on the default names (`authkit_*`).
//!
//! Diesel fixes table names at compile time, so this schema is for databases that keep
//! authkit's default table names (the stores of this crate use only these). The column
//! types are the same on every database: ids are [`Id`](crate::sql_types::Id), times
//! [`Ts`](crate::sql_types::Ts), hashes and payloads `Binary`, counters `BigInt`, the
//! rest `Text` (scopes, IP allow-lists and metadata hold JSON text). MySQL's users table
//! also has the stored generated column `email_lower` (what its unique index is on);
//! it is left out here, since the other databases index `lower(email)` instead.
//!
//! An application joins its own tables to these: see the crate's README, "Joining your
//! tables to authkit's", for the one step Diesel 2.3 needs across two crates.

diesel::table! {
    use diesel::sql_types::*;
    use crate::sql_types::{Id, Ts};

    /// Users, with a unique email (ignoring ASCII case).
    authkit_users (id) {
        /// The user's id.
        id -> Id,
        /// The normalized email.
        email -> Text,
        /// The PHC string of the password hash, if any.
        password_hash -> Nullable<Text>,
        /// When the email was verified.
        email_verified_at -> Nullable<Ts>,
        /// When the user was created.
        created_at -> Ts,
        /// When the user was last changed.
        updated_at -> Ts,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::sql_types::{Id, Ts};

    /// Server-side sessions, found by the SHA-256 of their secret.
    authkit_sessions (id) {
        /// The session's id.
        id -> Id,
        /// Its user.
        user_id -> Id,
        /// SHA-256 of the secret (unique).
        token_hash -> Binary,
        /// When it was created.
        created_at -> Ts,
        /// When it was last slid.
        last_seen_at -> Ts,
        /// The idle deadline.
        idle_expires_at -> Ts,
        /// The absolute deadline.
        absolute_expires_at -> Ts,
        /// The opaque (encrypted) payload.
        payload -> Nullable<Binary>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::sql_types::{Id, Ts};

    /// Refresh tokens, in families.
    authkit_refresh_tokens (id) {
        /// The token's id.
        id -> Id,
        /// Its family (one login).
        family_id -> Id,
        /// Its user.
        user_id -> Id,
        /// SHA-256 of the token (unique).
        token_hash -> Binary,
        /// The audience it was issued for.
        audience -> Text,
        /// The issuing profile, if any.
        profile -> Nullable<Text>,
        /// When the family's chain started.
        chain_started_at -> Ts,
        /// When it was created.
        created_at -> Ts,
        /// When it expires.
        expires_at -> Ts,
        /// When it was rotated.
        consumed_at -> Nullable<Ts>,
        /// How many times it was rotated.
        rotations -> BigInt,
        /// When its family was revoked.
        revoked_at -> Nullable<Ts>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::sql_types::{Id, Ts};

    /// One-time tokens and OTP codes.
    authkit_one_time_tokens (id) {
        /// The token's id.
        id -> Id,
        /// Its user.
        user_id -> Id,
        /// Its purpose.
        purpose -> Text,
        /// SHA-256 of the token (unique).
        token_hash -> Binary,
        /// When it was issued.
        created_at -> Ts,
        /// When it expires.
        expires_at -> Ts,
        /// When it was used.
        consumed_at -> Nullable<Ts>,
        /// Failed OTP attempts.
        failed_attempts -> BigInt,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::sql_types::{Id, Ts};

    /// API keys and service keys (no owner).
    authkit_api_keys (id) {
        /// The key's id.
        id -> Id,
        /// The visible prefix.
        prefix -> Text,
        /// SHA-256 of the key (unique).
        key_hash -> Binary,
        /// publishable / secret / restricted.
        key_type -> Text,
        /// live / test.
        environment -> Text,
        /// The owning user; none for a service key.
        owner_id -> Nullable<Id>,
        /// The organization, if any.
        organization_id -> Nullable<Text>,
        /// The key's name.
        name -> Text,
        /// Its description.
        description -> Nullable<Text>,
        /// Scopes (JSON array).
        scopes -> Text,
        /// IP allow-list (JSON array).
        allowed_ips -> Text,
        /// Metadata (JSON object).
        metadata -> Text,
        /// When it was created.
        created_at -> Ts,
        /// When it expires.
        expires_at -> Nullable<Ts>,
        /// When it was revoked.
        revoked_at -> Nullable<Ts>,
        /// Why.
        revoked_reason -> Nullable<Text>,
        /// Verifications counted.
        usage_count -> BigInt,
        /// The last use.
        last_used_at -> Nullable<Ts>,
        /// The IP of the last use.
        last_used_ip -> Nullable<Text>,
        /// Requests per window (0: no limit).
        rate_limit -> BigInt,
        /// The window's length in seconds.
        rate_window_seconds -> BigInt,
        /// When the current window started.
        rate_window_started_at -> Nullable<Ts>,
        /// Requests in the current window.
        rate_count -> BigInt,
        /// The user a service key acts for.
        acts_for_user_id -> Nullable<Id>,
        /// The user agent of the last use.
        last_used_user_agent -> Nullable<Text>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::sql_types::Id;

    /// Roles, permissions and abilities.
    authkit_rbac_items (id) {
        /// The item's id.
        id -> Id,
        /// role / permission / ability.
        kind -> Text,
        /// The slug (unique per kind).
        slug -> Text,
        /// A label for people.
        label -> Text,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::sql_types::Id;

    /// Permissions and abilities granted to roles.
    authkit_role_grants (role_id, item_id) {
        /// The role.
        role_id -> Id,
        /// The permission or ability.
        item_id -> Id,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::sql_types::Id;

    /// Roles assigned to users.
    authkit_user_roles (user_id, role_id) {
        /// The user.
        user_id -> Id,
        /// The role.
        role_id -> Id,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::sql_types::Id;

    /// Permissions and abilities granted to users directly.
    authkit_user_grants (user_id, item_id) {
        /// The user.
        user_id -> Id,
        /// The permission or ability.
        item_id -> Id,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::sql_types::Id;

    /// Roles assigned to API keys.
    authkit_api_key_roles (key_id, role_id) {
        /// The key.
        key_id -> Id,
        /// The role.
        role_id -> Id,
    }
}

diesel::joinable!(authkit_sessions -> authkit_users (user_id));
diesel::joinable!(authkit_refresh_tokens -> authkit_users (user_id));
diesel::joinable!(authkit_one_time_tokens -> authkit_users (user_id));
diesel::joinable!(authkit_api_keys -> authkit_users (owner_id));
diesel::joinable!(authkit_user_roles -> authkit_users (user_id));
diesel::joinable!(authkit_user_roles -> authkit_rbac_items (role_id));
diesel::joinable!(authkit_user_grants -> authkit_users (user_id));
diesel::joinable!(authkit_user_grants -> authkit_rbac_items (item_id));
diesel::joinable!(authkit_role_grants -> authkit_rbac_items (item_id));
diesel::joinable!(authkit_api_key_roles -> authkit_api_keys (key_id));
diesel::joinable!(authkit_api_key_roles -> authkit_rbac_items (role_id));

diesel::allow_tables_to_appear_in_same_query!(
    authkit_users,
    authkit_sessions,
    authkit_refresh_tokens,
    authkit_one_time_tokens,
    authkit_api_keys,
    authkit_rbac_items,
    authkit_role_grants,
    authkit_user_roles,
    authkit_user_grants,
    authkit_api_key_roles,
);

/// Lets an application's tables appear in one query with every authkit table, across
/// the crate boundary: `authkit_diesel::allow_tables_with_authkit!(posts, comments);`
/// in the module that declares `posts` and `comments` (with their `table!`).
///
/// Diesel's own `allow_tables_to_appear_in_same_query!(posts, authkit_users)` does not
/// compile in the application's crate under PostgreSQL (error E0117): besides the two
/// plain impls, it writes `ONLY` and `TABLESAMPLE` impls such as
/// `impl TableNotEqual<authkit_users::table> for Only<posts::table>`, in which no type
/// is the application's own at the place the orphan rule looks. This macro writes the
/// impls the application may write (the plain ones, and those with authkit's table
/// inside `Only` or `Tablesample`), and marks each table [`AppTable`]; this crate
/// holds the other half as blanket impls over [`AppTable`]. Every query Diesel's
/// macro allows then compiles, `ONLY` and `TABLESAMPLE` included.
#[macro_export]
macro_rules! allow_tables_with_authkit {
    ($($table:ident),+ $(,)?) => {
        $(
            impl $crate::schema::AppTable for $table::table {}
            $crate::__allow_one_with_authkit!(
                $table,
                authkit_users,
                authkit_sessions,
                authkit_refresh_tokens,
                authkit_one_time_tokens,
                authkit_api_keys,
                authkit_rbac_items,
                authkit_role_grants,
                authkit_user_roles,
                authkit_user_grants,
                authkit_api_key_roles
            );
        )+
    };
}

/// An application's table that [`allow_tables_with_authkit!`] let into queries with
/// authkit's tables. Implemented by that macro; nothing to implement by hand.
pub trait AppTable {}

#[doc(hidden)]
#[macro_export]
macro_rules! __allow_one_with_authkit {
    ($table:ident, $($authkit:ident),+) => {
        $(
            impl $crate::__diesel::query_source::TableNotEqual<
                $crate::schema::$authkit::table,
            > for $table::table {}
            impl $crate::__diesel::query_source::TableNotEqual<$table::table>
                for $crate::schema::$authkit::table {}
            $crate::__allow_only_with_authkit!($table, $authkit);
        )+
    };
}

#[doc(hidden)]
#[macro_export]
#[cfg(feature = "postgres")]
macro_rules! __allow_only_with_authkit {
    ($table:ident, $authkit:ident) => {
        impl $crate::__diesel::query_source::TableNotEqual<$table::table>
            for $crate::__diesel::query_builder::Only<$crate::schema::$authkit::table>
        {
        }
        impl
            $crate::__diesel::query_source::TableNotEqual<
                $crate::__diesel::query_builder::Only<$crate::schema::$authkit::table>,
            > for $table::table
        {
        }
        impl<TSM> $crate::__diesel::query_source::TableNotEqual<$table::table>
            for $crate::__diesel::query_builder::Tablesample<$crate::schema::$authkit::table, TSM>
        where
            TSM: $crate::__diesel::internal::table_macro::TablesampleMethod,
        {
        }
        impl<TSM>
            $crate::__diesel::query_source::TableNotEqual<
                $crate::__diesel::query_builder::Tablesample<$crate::schema::$authkit::table, TSM>,
            > for $table::table
        where
            TSM: $crate::__diesel::internal::table_macro::TablesampleMethod,
        {
        }
    };
}

#[doc(hidden)]
#[macro_export]
#[cfg(not(feature = "postgres"))]
macro_rules! __allow_only_with_authkit {
    ($table:ident, $authkit:ident) => {};
}

/// The half of the `ONLY`/`TABLESAMPLE` impls an application's crate may not write
/// (see [`allow_tables_with_authkit!`]), for every [`AppTable`].
#[cfg(feature = "postgres")]
macro_rules! app_table_halves {
    ($($authkit:ident),+ $(,)?) => {
        $(
            impl<T> diesel::query_source::TableNotEqual<$authkit::table>
                for diesel::query_builder::Only<T>
            where
                T: AppTable,
                diesel::query_builder::Only<T>: diesel::Table,
            {}
            impl<T> diesel::query_source::TableNotEqual<diesel::query_builder::Only<T>>
                for $authkit::table
            where
                T: AppTable,
                diesel::query_builder::Only<T>: diesel::Table,
            {}
            impl<T, TSM> diesel::query_source::TableNotEqual<$authkit::table>
                for diesel::query_builder::Tablesample<T, TSM>
            where
                T: AppTable,
                TSM: diesel::internal::table_macro::TablesampleMethod,
                diesel::query_builder::Tablesample<T, TSM>: diesel::Table,
            {}
            impl<T, TSM>
                diesel::query_source::TableNotEqual<diesel::query_builder::Tablesample<T, TSM>>
                for $authkit::table
            where
                T: AppTable,
                TSM: diesel::internal::table_macro::TablesampleMethod,
                diesel::query_builder::Tablesample<T, TSM>: diesel::Table,
            {}
        )+
    };
}

#[cfg(feature = "postgres")]
app_table_halves!(
    authkit_users,
    authkit_sessions,
    authkit_refresh_tokens,
    authkit_one_time_tokens,
    authkit_api_keys,
    authkit_rbac_items,
    authkit_role_grants,
    authkit_user_roles,
    authkit_user_grants,
    authkit_api_key_roles,
);
