//! The conformance suite on [`PgStore`](authkit_seaorm::PgStore) over
//! PostgreSQL, one schema per case:
//! `cargo nextest run -p authkit-seaorm --all-features --test conformance_postgres`.
//!
//! The server is `AUTHKIT_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`). A server that cannot be reached fails
//! every case with a message naming that variable; nothing is skipped. Each case's schema
//! is dropped when the case ends; schemas left by a killed run are dropped by the next.

mod common;

authkit_conformance::conformance_suite!(common::server::ServerFactory::new(
    common::server::Server::Postgres
));
