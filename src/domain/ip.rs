//! Client addresses.

use std::net::IpAddr;

/// `::ffff:10.0.0.1` is `10.0.0.1` (dual-stack listeners report IPv4 peers this way).
pub fn normalise_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    }
}
