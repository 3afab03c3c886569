//! Which addresses outbound calls may reach. Cloud metadata and link-local addresses are always
//! refused; private and loopback networks only when the operator says so.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NetworkPolicy {
    /// Refuse loopback, RFC 1918, CGNAT and unique-local addresses too.
    pub deny_private: bool,
}

/// Host names that are metadata services whatever they resolve to.
const METADATA_HOSTS: &[&str] = &["metadata.google.internal", "metadata.goog", "metadata"];

impl NetworkPolicy {
    /// `Err` with the reason when `ip` may not be called.
    pub fn check_ip(&self, ip: IpAddr) -> Result<(), String> {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        if is_metadata(ip) || is_link_local(ip) {
            return Err(format!("{ip} is a cloud-metadata or link-local address; calls to it are always refused"));
        }
        if self.deny_private && is_private(ip) {
            return Err(format!("{ip} is a private address and the server runs with --deny-private-networks"));
        }
        Ok(())
    }

    pub fn check_host(&self, host: &str) -> Result<(), String> {
        let lower = host.trim_end_matches('.').to_ascii_lowercase();
        if METADATA_HOSTS.contains(&lower.as_str()) {
            return Err(format!("{host} is a cloud-metadata service; calls to it are always refused"));
        }
        Ok(())
    }
}

fn is_metadata(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            v4 == Ipv4Addr::new(169, 254, 169, 254)
                || v4 == Ipv4Addr::new(169, 254, 170, 2)
                || v4 == Ipv4Addr::new(100, 100, 100, 200)
        }
        IpAddr::V6(v6) => v6 == Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254),
    }
}

fn is_link_local(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_link_local(),
        IpAddr::V6(v6) => (v6.segments()[0] & 0xffc0) == 0xfe80,
    }
}

fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            v4.is_private() || v4.is_loopback() || v4.is_unspecified() || a == 0 || (a == 100 && (64..128).contains(&b))
        }
        IpAddr::V6(v6) => v6.is_loopback() || v6.is_unspecified() || (v6.segments()[0] & 0xfe00) == 0xfc00,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn metadata_and_link_local_are_always_refused() {
        let open = NetworkPolicy::default();
        for s in
            ["169.254.169.254", "169.254.1.1", "fd00:ec2::254", "fe80::1", "::ffff:169.254.169.254", "100.100.100.200"]
        {
            assert!(open.check_ip(ip(s)).is_err(), "{s}");
        }
        assert!(open.check_host("metadata.google.internal.").is_err());
        for s in ["127.0.0.1", "10.1.2.3", "192.168.1.1", "::1", "93.184.216.34"] {
            assert!(open.check_ip(ip(s)).is_ok(), "{s}");
        }
    }

    #[test]
    fn private_networks_only_when_denied() {
        let closed = NetworkPolicy { deny_private: true };
        for s in ["127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "100.64.0.1", "::1", "fd12::1", "0.0.0.0"] {
            assert!(closed.check_ip(ip(s)).is_err(), "{s}");
        }
        assert!(closed.check_ip(ip("93.184.216.34")).is_ok());
        assert!(closed.check_ip(ip("2606:2800:220:1::1")).is_ok());
    }
}
