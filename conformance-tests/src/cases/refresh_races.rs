//! `Auth::refresh` raced as an attacker races it: on a real, advancing clock, through one
//! `Auth` and through two over one database, and from servers whose clocks disagree.
//!
//! A refresh reads the time before the store locks the token, so a request that waited
//! behind the first use holds a time earlier than the `consumed_at` that use wrote. These
//! cases check that such a request is still judged a reuse (RFC 9700 §4.14.2): a thief and
//! the legitimate client refreshing at one moment never both get a pair, unless a reuse
//! grace is configured, and then never more than the grace allows.

use std::sync::Arc;

use authkit::{Auth, Config, Error, ManualClock, Stores, TokenPair, UserId};
use time::Duration;

use super::flows::{auth_over, test_config};
use crate::StoreFactory;
use crate::fixtures::{BASE, together};

/// Rounds of two-way races per case: the interleaving that lets a late racer through is
/// rare on a fast store, so each case runs many.
const PAIR_ROUNDS: usize = 40;
/// Rounds of crowd races per case.
const CROWD_ROUNDS: usize = 4;
/// Racers in a crowd race.
const CROWD: usize = 32;

/// An `Auth` over `stores` on the system clock and the OS randomness, as in production.
fn real_auth(stores: Stores, config: Config) -> Arc<Auth> {
    Arc::new(
        Auth::builder(stores, config)
            .build()
            .expect("test config is valid"),
    )
}

/// What one race gave: the pairs of the racers that rotated, and how many saw reuse.
struct Race {
    rotated: Vec<TokenPair>,
    reused: usize,
}

/// Issues a pair for `user`, then presents its refresh token `n` times at once, racer `i`
/// through `auths[i % auths.len()]`.
async fn race(auths: &[Arc<Auth>], user: UserId, n: usize) -> Race {
    let pair = auths[0].issue_token_pair(user).await.expect("issue a pair");
    let token = pair.refresh_token.expose().to_owned();
    let results = together(n, |i| {
        let auth = auths[i % auths.len()].clone();
        let token = token.clone();
        async move { auth.refresh(&token).await }
    })
    .await;
    let mut race = Race {
        rotated: Vec::new(),
        reused: 0,
    };
    for result in results {
        match result {
            Ok(pair) => race.rotated.push(pair),
            Err(Error::RefreshReused { .. }) => race.reused += 1,
            Err(other) => panic!("a racing refresh gave {other:?}, not a pair or RefreshReused"),
        }
    }
    race
}

/// `rounds` races of `n` with no reuse grace: each rotates exactly once, and the losers'
/// reuse revokes the family, the winner's new token included.
async fn rotates_once(auths: &[Arc<Auth>], user: UserId, n: usize, rounds: usize) {
    for round in 0..rounds {
        let result = race(auths, user, n).await;
        assert_eq!(
            (result.rotated.len(), result.reused),
            (1, n - 1),
            "round {round}: {n} concurrent refreshes of one token with no reuse grace must \
             rotate exactly once (pairs, reuse errors)"
        );
        let after = auths[0]
            .refresh(result.rotated[0].refresh_token.expose())
            .await;
        assert!(
            matches!(after, Err(Error::RefreshExpired)),
            "round {round}: the reuse must revoke the family, the winner's new token too: \
             {after:?}"
        );
    }
}

/// Exactly one rotation per token under 2-way and 32-way races through one `Auth` on the
/// system clock.
pub async fn one_server_rotates_once<F: StoreFactory>(factory: &F) {
    let auths = [real_auth(factory.stores().await, test_config())];
    let user = auths[0].create_user("ray@example.com").await.expect("user");
    rotates_once(&auths, user.id, 2, PAIR_ROUNDS).await;
    rotates_once(&auths, user.id, CROWD, CROWD_ROUNDS).await;
}

/// Exactly one rotation per token when the racers are split across two `Auth` instances
/// over one database ([`StoreFactory::two_handles`]), as two servers would be.
pub async fn two_servers_rotate_once<F: StoreFactory>(factory: &F) {
    let (a, b) = factory.two_handles().await;
    let auths = [real_auth(a, test_config()), real_auth(b, test_config())];
    let user = auths[0].create_user("rae@example.com").await.expect("user");
    rotates_once(&auths, user.id, 2, PAIR_ROUNDS).await;
    rotates_once(&auths, user.id, CROWD, CROWD_ROUNDS).await;
}

/// With a reuse grace, racers within it get what the grace documents and no more: at
/// most two rotations per token (the first use and one repeat); any further racer is
/// reuse and revokes the family.
pub async fn grace_rotates_at_most_twice<F: StoreFactory>(factory: &F) {
    let mut config = test_config();
    config.tokens.reuse_grace = Duration::hours(1);
    let (a, b) = factory.two_handles().await;
    let auths = [real_auth(a, config.clone()), real_auth(b, config)];
    let user = auths[0].create_user("rex@example.com").await.expect("user");
    for round in 0..CROWD_ROUNDS {
        let pair_race = race(&auths, user.id, 2).await;
        assert_eq!(
            (pair_race.rotated.len(), pair_race.reused),
            (2, 0),
            "round {round}: two refreshes inside the grace both rotate"
        );
        for pair in &pair_race.rotated {
            auths[1]
                .refresh(pair.refresh_token.expose())
                .await
                .unwrap_or_else(|e| panic!("round {round}: a grace successor is live: {e:?}"));
        }
        let crowd = race(&auths, user.id, CROWD).await;
        assert_eq!(
            (crowd.rotated.len(), crowd.reused),
            (2, CROWD - 2),
            "round {round}: {CROWD} refreshes inside the grace rotate at most twice"
        );
    }
}

/// Two servers whose clocks disagree: the one that is behind presents a token the other
/// has just rotated. Its time is earlier than the first use, and that must not make the
/// repeat look like one inside the grace.
pub async fn server_clock_behind<F: StoreFactory>(factory: &F) {
    for grace in [Duration::ZERO, Duration::seconds(10)] {
        let mut config = test_config();
        config.tokens.reuse_grace = grace;
        let (a, b) = factory.two_handles().await;
        let ahead = Arc::new(ManualClock::new(BASE));
        let behind = Arc::new(ManualClock::new(BASE - Duration::seconds(5)));
        let fast = auth_over(a, config.clone(), ahead.clone(), 1);
        let slow = auth_over(b, config, behind.clone(), 2);
        let user = fast.create_user("rio@example.com").await.expect("user");
        let pair = fast.issue_token_pair(user.id).await.expect("pair");
        let first = fast
            .refresh(pair.refresh_token.expose())
            .await
            .expect("first use");
        ahead.advance(Duration::seconds(1));
        behind.advance(Duration::seconds(1));
        let repeat = slow.refresh(pair.refresh_token.expose()).await;
        if grace.is_zero() {
            assert!(
                matches!(repeat, Err(Error::RefreshReused { .. })),
                "no grace: a repeat from a server whose clock reads before the first use \
                 is reuse: {repeat:?}"
            );
            let after = fast.refresh(first.refresh_token.expose()).await;
            assert!(
                matches!(after, Err(Error::RefreshExpired)),
                "the reuse revoked the first use's successor: {after:?}"
            );
        } else {
            repeat.expect("inside the grace after the first use, one repeat rotates");
            let third = fast.refresh(pair.refresh_token.expose()).await;
            assert!(
                matches!(third, Err(Error::RefreshReused { .. })),
                "the grace allows one repeat, not two: {third:?}"
            );
        }
    }
}
