//! The client's address, for API-key allow-lists and usage records.
//!
//! The socket's peer is the client unless it is a proxy the application trusts. Then the
//! forwarding headers are read from the right (the entry the nearest proxy appended) to
//! the left, skipping trusted proxies; the first address that is not one of them is the
//! client (MDN, "X-Forwarded-For: Selecting an IP address"). Entries left of it were
//! written by the client and are never believed. `Forwarded` (RFC 7239) is read when
//! present, `X-Forwarded-For` otherwise.

use std::net::{IpAddr, SocketAddr};

use axum::http::HeaderMap;
use axum::http::header::FORWARDED;
use ipnet::IpNet;

const X_FORWARDED_FOR: &str = "x-forwarded-for";

/// The client's address given the socket's peer (`None`: unknown, as in tests through
/// `oneshot`), the request headers and the trusted proxies. `None` when the peer is
/// unknown, or when a trusted proxy forwarded an entry that is not an address
/// (`unknown`, an obfuscated name, garbage): an allow-listed key is then refused rather
/// than matched against a guess.
pub fn client_ip(peer: Option<IpAddr>, headers: &HeaderMap, trusted: &[IpNet]) -> Option<IpAddr> {
    let peer = peer?;
    if !is_trusted(peer, trusted) {
        return Some(peer);
    }
    let hops = forwarded_hops(headers);
    let mut nearest = peer;
    for hop in hops.iter().rev() {
        let ip = hop.as_deref().and_then(parse_hop)?;
        if !is_trusted(ip, trusted) {
            return Some(ip);
        }
        nearest = ip;
    }
    // Every hop is a trusted proxy: the farthest one is the client.
    Some(nearest)
}

fn is_trusted(ip: IpAddr, trusted: &[IpNet]) -> bool {
    let ip = ip.to_canonical();
    trusted.iter().any(|net| net.contains(&ip))
}

/// The forwarded-for entries, leftmost first, from every `Forwarded` header or, when
/// there is none, every `X-Forwarded-For` header. `None` stands for an entry that is not
/// text.
fn forwarded_hops(headers: &HeaderMap) -> Vec<Option<String>> {
    let forwarded: Vec<_> = headers.get_all(FORWARDED).iter().collect();
    if !forwarded.is_empty() {
        return forwarded
            .iter()
            .flat_map(|value| split_list(value.to_str().ok()))
            .map(|element| element.and_then(forwarded_for))
            .collect();
    }
    headers
        .get_all(X_FORWARDED_FOR)
        .iter()
        .flat_map(|value| split_list(value.to_str().ok()))
        .collect()
}

/// The comma-separated entries of one header value; a value that is not text is one
/// unreadable entry.
fn split_list(value: Option<&str>) -> Vec<Option<String>> {
    match value {
        Some(text) => text.split(',').map(|e| Some(e.trim().to_owned())).collect(),
        None => vec![None],
    }
}

/// The `for=` parameter of one `Forwarded` element (RFC 7239 §4), unquoted.
fn forwarded_for(element: String) -> Option<String> {
    element.split(';').find_map(|pair| {
        let (name, value) = pair.split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case("for")
            .then(|| value.trim().trim_matches('"').to_owned())
    })
}

/// An address as proxies write it: `192.0.2.1`, `192.0.2.1:4711`, `2001:db8::1`,
/// `[2001:db8::1]` or `[2001:db8::1]:4711`.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    if let Ok(ip) = hop.parse::<IpAddr>() {
        return Some(ip.to_canonical());
    }
    if let Ok(socket) = hop.parse::<SocketAddr>() {
        return Some(socket.ip().to_canonical());
    }
    let bracketed = hop.strip_prefix('[')?.strip_suffix(']')?;
    bracketed.parse::<IpAddr>().ok().map(|ip| ip.to_canonical())
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter()
            .map(|s| s.parse().unwrap_or_else(|e| panic!("{s}: {e}")))
            .collect()
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            let value = HeaderValue::from_str(value).unwrap_or_else(|e| panic!("{e}"));
            map.append(*name, value);
        }
        map
    }

    #[test]
    fn without_trusted_proxies_the_headers_are_ignored() {
        let h = headers(&[
            ("x-forwarded-for", "198.51.100.7"),
            ("forwarded", "for=1.2.3.4"),
        ]);
        assert_eq!(
            client_ip(Some(ip("203.0.113.9")), &h, &[]),
            Some(ip("203.0.113.9"))
        );
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_forwards() {
        let h = headers(&[("x-forwarded-for", "198.51.100.7")]);
        let trusted = nets(&["10.0.0.0/8"]);
        assert_eq!(
            client_ip(Some(ip("203.0.113.9")), &h, &trusted),
            Some(ip("203.0.113.9"))
        );
    }

    #[test]
    fn the_rightmost_untrusted_entry_is_the_client() {
        // The client forged the first entry; the proxies appended the rest.
        let h = headers(&[("x-forwarded-for", "6.6.6.6, 198.51.100.7, 10.0.0.2")]);
        let trusted = nets(&["10.0.0.0/8"]);
        assert_eq!(
            client_ip(Some(ip("10.0.0.1")), &h, &trusted),
            Some(ip("198.51.100.7"))
        );
    }

    #[test]
    fn several_header_lines_are_one_list() {
        let h = headers(&[
            ("x-forwarded-for", "6.6.6.6"),
            ("x-forwarded-for", "198.51.100.7, 10.0.0.2"),
        ]);
        let trusted = nets(&["10.0.0.0/8"]);
        assert_eq!(
            client_ip(Some(ip("10.0.0.1")), &h, &trusted),
            Some(ip("198.51.100.7"))
        );
    }

    #[test]
    fn forwarded_wins_over_x_forwarded_for_and_takes_quoted_v6_with_ports() {
        let h = headers(&[
            ("x-forwarded-for", "6.6.6.6"),
            (
                "forwarded",
                "for=6.6.6.6, for=\"[2001:db8:cafe::17]:4711\";proto=https, for=10.0.0.2",
            ),
        ]);
        let trusted = nets(&["10.0.0.0/8"]);
        assert_eq!(
            client_ip(Some(ip("10.0.0.1")), &h, &trusted),
            Some(ip("2001:db8:cafe::17"))
        );
    }

    #[test]
    fn an_unreadable_hop_before_the_client_gives_no_address() {
        for bad in ["unknown", "_hidden", "not an address", ""] {
            let h = headers(&[("forwarded", &format!("for=198.51.100.7, for={bad}"))]);
            let trusted = nets(&["10.0.0.0/8"]);
            assert_eq!(
                client_ip(Some(ip("10.0.0.1")), &h, &trusted),
                None,
                "{bad:?}"
            );
        }
    }

    #[test]
    fn all_hops_trusted_gives_the_farthest() {
        let h = headers(&[("x-forwarded-for", "10.0.0.3, 10.0.0.2")]);
        let trusted = nets(&["10.0.0.0/8"]);
        assert_eq!(
            client_ip(Some(ip("10.0.0.1")), &h, &trusted),
            Some(ip("10.0.0.3"))
        );
        let none = HeaderMap::new();
        assert_eq!(
            client_ip(Some(ip("10.0.0.1")), &none, &trusted),
            Some(ip("10.0.0.1"))
        );
    }

    #[test]
    fn v4_mapped_v6_peers_match_v4_ranges() {
        let h = headers(&[("x-forwarded-for", "198.51.100.7")]);
        let trusted = nets(&["127.0.0.0/8"]);
        assert_eq!(
            client_ip(Some(ip("::ffff:127.0.0.1")), &h, &trusted),
            Some(ip("198.51.100.7"))
        );
    }

    #[test]
    fn an_unknown_peer_is_no_address() {
        assert_eq!(client_ip(None, &HeaderMap::new(), &[]), None);
    }
}
