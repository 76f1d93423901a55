//! The upstream resolvers named in a `resolv.conf`.

use std::net::{IpAddr, SocketAddr};

/// The upstream resolvers in a resolv.conf text (port 53), in order.
///
/// Every `nameserver` line counts, loopback addresses included: the
/// server asks them from the daemon's network namespace, where they
/// answer. Comments and other options are ignored, and so are addresses
/// that do not parse, such as IPv6 ones with a `%zone`.
pub fn upstreams_from_resolv_conf(text: &str) -> Vec<SocketAddr> {
    text.lines().filter_map(nameserver).collect()
}

fn nameserver(line: &str) -> Option<SocketAddr> {
    let mut words = line.split_whitespace();
    if words.next()? != "nameserver" {
        return None;
    }
    let ip: IpAddr = words.next()?.parse().ok()?;
    Some(SocketAddr::new(ip, 53))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nameservers_in_order() {
        let text = "# generated\n\
                    search example.com\n\
                    nameserver 127.0.0.53\n\
                    ; nameserver 10.0.0.1\n\
                    \tnameserver   2001:db8::1  # the router\n\
                    nameserver fe80::1%eth0\n\
                    nameserver\n\
                    nameservers 10.0.0.2\n\
                    options edns0 trust-ad\n\
                    nameserver 1.1.1.1\n";
        let expected: Vec<SocketAddr> = ["127.0.0.53:53", "[2001:db8::1]:53", "1.1.1.1:53"]
            .iter()
            .map(|addr| addr.parse().unwrap())
            .collect();
        assert_eq!(upstreams_from_resolv_conf(text), expected);
    }

    #[test]
    fn none_in_an_empty_file() {
        assert!(upstreams_from_resolv_conf("").is_empty());
    }
}
