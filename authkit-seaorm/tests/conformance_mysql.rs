//! The conformance suite on [`MySqlStore`](authkit_seaorm::MySqlStore) over
//! MySQL/MariaDB, one database per case:
//! `cargo nextest run -p authkit-seaorm --all-features --test conformance_mysql`.
//!
//! The server is `AUTHKIT_TEST_MYSQL_URL` (default `mysql://root@127.0.0.1:3306/test`).
//! A server that cannot be reached fails every case with a message naming that
//! variable; nothing is skipped. Each case's database is dropped when the case ends;
//! databases left by a killed run are dropped by the next.

mod common;

authkit_conformance::conformance_suite!(common::server::ServerFactory::new(
    common::server::Server::MySql
));
