//! EXPOSE port specs (`80`, `53/udp`, `8000-8010/tcp`), read after
//! expansion the way Docker's `nat.ParsePortSpecs` reads them.

use std::fmt;

/// A transport protocol a port can be exposed on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Protocol {
    /// The default when none is written.
    Tcp,
    /// `/udp`.
    Udp,
    /// `/sctp`.
    Sctp,
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
            Protocol::Sctp => "sctp",
        })
    }
}

/// One EXPOSE argument: a port or an inclusive range of ports, on one
/// protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExposedPorts {
    /// First port of the range (the port itself for a single port).
    pub start: u16,
    /// Last port of the range, inclusive.
    pub end: u16,
    /// The protocol, `tcp` unless written.
    pub protocol: Protocol,
}

impl ExposedPorts {
    /// Parses one expanded EXPOSE word. A `host:container` mapping is
    /// accepted and only the container side kept, as Docker does.
    pub fn parse(spec: &str) -> Result<ExposedPorts, String> {
        let expected = "expected a port, a range and an optional protocol, such as 80, \
                        53/udp or 8000-8010/tcp";
        let container = spec.rsplit(':').next().unwrap_or(spec);
        let (ports, protocol) = match container.split_once('/') {
            Some((ports, proto)) => (ports, proto),
            None => (container, ""),
        };
        let protocol = match protocol.to_ascii_lowercase().as_str() {
            "" | "tcp" => Protocol::Tcp,
            "udp" => Protocol::Udp,
            "sctp" => Protocol::Sctp,
            other => {
                return Err(format!(
                    "invalid protocol {other:?} in port {spec:?}; expected tcp, udp or sctp"
                ));
            }
        };
        let number = |s: &str| {
            s.parse::<u16>().map_err(|_| {
                format!("invalid port {spec:?}: {s:?} is not a port number; {expected}")
            })
        };
        let (start, end) = match ports.split_once('-') {
            Some((a, b)) => (number(a)?, number(b)?),
            None => {
                let p = number(ports)?;
                (p, p)
            }
        };
        if end < start {
            return Err(format!(
                "invalid port range {spec:?}: the end is below the start; {expected}"
            ));
        }
        Ok(ExposedPorts {
            start,
            end,
            protocol,
        })
    }

    /// The image-config keys (`80/tcp`) for every port in the range.
    pub fn keys(&self) -> Vec<String> {
        (self.start..=self.end)
            .map(|port| format!("{port}/{}", self.protocol))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_specs() {
        let cases: [(&str, &[&str]); 6] = [
            ("80", &["80/tcp"]),
            ("53/udp", &["53/udp"]),
            ("53/UDP", &["53/udp"]),
            ("9/sctp", &["9/sctp"]),
            ("8000-8002/tcp", &["8000/tcp", "8001/tcp", "8002/tcp"]),
            ("8080:80", &["80/tcp"]),
        ];
        for (spec, want) in cases {
            assert_eq!(ExposedPorts::parse(spec).unwrap().keys(), want, "{spec}");
        }
    }

    #[test]
    fn rejects_bad_specs() {
        for (spec, why) in [
            ("http", "not a port number"),
            ("70000", "not a port number"),
            ("80/icmp", "invalid protocol \"icmp\""),
            ("90-80", "end is below the start"),
            ("", "not a port number"),
        ] {
            let err = ExposedPorts::parse(spec).unwrap_err();
            assert!(err.contains(why), "{spec}: {err}");
        }
    }
}
