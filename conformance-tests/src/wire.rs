//! A counting proxy: how many statements and round trips a store sends, read on the
//! wire, for tests that hold a backend to a round-trip budget.
//!
//! A store's pool reaches the database through [`counting_proxy`], which reads what the
//! client sends: PostgreSQL's frontend messages (an `Execute` or a simple `Query` is a
//! statement; a `Sync` or a simple `Query` is a round trip) and MySQL's command packets
//! (a `COM_STMT_EXECUTE` or `COM_QUERY` is a statement; every command that gets an
//! answer is a round trip). `BEGIN`, `COMMIT` and `ROLLBACK` sent as text are counted
//! apart, and so are pings (a PostgreSQL `Sync` that ends no exchange, MySQL's
//! `COM_PING`). [`Wire::take`] reads and resets the counts. [`HotPaths`] runs the hot
//! paths whose counts a backend's test compares with its budget.

use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

mod paths;
pub use paths::{FLUSHED_KEYS, HotPaths, KeyCounts, SessionCounts};

/// The wire protocol the proxy reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    /// PostgreSQL's frontend/backend protocol, version 3.
    Postgres,
    /// The MySQL client/server protocol (MariaDB too).
    MySql,
}

/// What the client sent since the last [`Wire::take`].
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Counts {
    /// Statements other than transaction control.
    pub statements: usize,
    /// `BEGIN`, `COMMIT`, `ROLLBACK`.
    pub tx_control: usize,
    /// Messages the client waits on, pings aside.
    pub round_trips: usize,
    /// Pings: sqlx's pool pings each connection it takes back, after the caller has
    /// its answer (and, with `test_before_acquire`, before handing one out).
    pub pings: usize,
}

/// The counts of one proxy, shared by every connection through it.
#[derive(Debug, Default)]
pub struct Wire(Mutex<Counts>);

impl Wire {
    /// The counts so far, reset. Waits first for the pool's release ping of the last
    /// call, which sqlx sends after the caller has its answer.
    pub async fn take(&self) -> Counts {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        std::mem::take(&mut *self.lock())
    }

    fn note(&self, statement: Option<&[u8]>, round_trip: bool) {
        let mut c = self.lock();
        if let Some(text) = statement {
            let text = String::from_utf8_lossy(text).trim().to_ascii_uppercase();
            if ["BEGIN", "COMMIT", "ROLLBACK"]
                .iter()
                .any(|w| text.starts_with(w))
            {
                c.tx_control += 1;
            } else {
                c.statements += 1;
            }
        }
        c.round_trips += usize::from(round_trip);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Counts> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn ping(&self) {
        self.lock().pings += 1;
    }
}

/// Where a PostgreSQL client is in its stream.
#[derive(Debug, Default)]
struct State {
    /// The startup message has gone.
    started: bool,
    /// Extended-protocol messages were sent since the last `Sync`.
    exchange: bool,
}

/// Splits the client's bytes into messages and notes each; returns how many bytes of
/// `buf` were whole messages.
///
/// On PostgreSQL a `Sync` that ends no extended-protocol exchange (`Parse`, `Bind`,
/// `Describe`, `Execute`, `Close` since the last `Sync`) is sqlx's ping.
fn parse(protocol: Protocol, buf: &[u8], state: &mut State, wire: &Wire) -> usize {
    let mut at = 0;
    loop {
        let rest = &buf[at..];
        let len = match protocol {
            // Before the startup message: untyped (length, code), SSL requests included.
            Protocol::Postgres if !state.started => {
                let Some(len) = rest.get(..4) else { break };
                let len = u32::from_be_bytes(len.try_into().expect("four bytes")) as usize;
                if rest.len() < len {
                    break;
                }
                let code = u32::from_be_bytes(rest[4..8].try_into().expect("four bytes"));
                state.started = !matches!(code, 80_877_103 | 80_877_104);
                len
            }
            Protocol::Postgres => {
                let Some(head) = rest.get(..5) else { break };
                let len =
                    1 + u32::from_be_bytes(head[1..5].try_into().expect("four bytes")) as usize;
                if rest.len() < len {
                    break;
                }
                match head[0] {
                    b'S' if state.exchange => wire.note(None, true),
                    b'S' => wire.ping(),
                    b'E' => wire.note(Some(b"execute"), false),
                    b'Q' => wire.note(Some(&rest[5..len - 1]), true),
                    _ => {}
                }
                state.exchange = !matches!(head[0], b'S' | b'Q');
                len
            }
            Protocol::MySql => {
                let Some(head) = rest.get(..4) else { break };
                let len = 4 + (u32::from_le_bytes([head[0], head[1], head[2], 0]) as usize);
                if rest.len() < len {
                    break;
                }
                // Commands start a sequence; the handshake answer does not.
                if head[3] == 0 && len > 4 {
                    match rest[4] {
                        0x17 => wire.note(Some(b"execute"), true),
                        0x03 => wire.note(Some(&rest[5..len]), true),
                        0x19 => {} // COM_STMT_CLOSE: no answer.
                        0x0e => wire.ping(),
                        _ => wire.note(None, true),
                    }
                }
                len
            }
        };
        at += len;
    }
    at
}

/// A forwarder on `127.0.0.1` that counts what clients send to `upstream`
/// (`host:port`); returns its port and its counts. Connect the store's pool to that port
/// with TLS off, so the proxy can read the messages.
///
/// # Panics
///
/// When the proxy cannot bind a local port, or cannot reach `upstream` for a client.
pub async fn counting_proxy(upstream: String, protocol: Protocol) -> (u16, Arc<Wire>) {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind the proxy");
    let port = listener.local_addr().expect("the proxy's address").port();
    let wire = Arc::new(Wire::default());
    let counts = Arc::clone(&wire);
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let server = TcpStream::connect(&upstream)
                .await
                .expect("reach the server");
            let (mut from_client, mut to_client) = client.into_split();
            let (mut from_server, mut to_server) = server.into_split();
            tokio::spawn(async move { tokio::io::copy(&mut from_server, &mut to_client).await });
            let wire = Arc::clone(&counts);
            tokio::spawn(async move {
                let (mut buf, mut chunk, mut state) = (Vec::new(), [0u8; 8192], State::default());
                while let Ok(n @ 1..) = from_client.read(&mut chunk).await {
                    buf.extend_from_slice(&chunk[..n]);
                    // Counted before forwarding: once the answer arrives, it is counted.
                    let whole = parse(protocol, &buf, &mut state, &wire);
                    if to_server.write_all(&buf[..whole]).await.is_err() {
                        break;
                    }
                    buf.drain(..whole);
                }
            });
        }
    });
    (port, wire)
}
