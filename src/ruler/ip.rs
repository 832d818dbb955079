//! IP addresses and CIDR blocks for the `cidr` operator and for IP-literal exact matches, parsed
//! the way the rule compiler parses them (so its error texts and its leniencies are kept).

use std::net::Ipv6Addr;

/// An IP address: IPv4 addresses use the low 32 bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Ip {
    v6: bool,
    pub(crate) bits: u128,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct IpNet {
    v6: bool,
    pub(crate) network: u128,
    pub(crate) mask: u128,
}

impl IpNet {
    pub(crate) fn contains(&self, ip: Ip) -> bool {
        ip.v6 == self.v6 && ip.bits & self.mask == self.network
    }
}

/// Parses `ip/bits` the way the rule compiler does (Java `String.split` and `parseInt`).
pub(crate) fn parse_cidr(cidr: &str) -> Result<IpNet, String> {
    let mut parts: Vec<&str> = cidr.split('/').collect();
    while parts.last() == Some(&"") {
        parts.pop();
    }
    if parts.len() != 2 {
        return Err("Malformed CIDR, one '/' required".to_owned());
    }
    let bits: i32 = parts[1]
        .parse()
        .map_err(|_| "Malformed CIDR, mask bits must be an integer".to_owned())?;
    if bits < 0 {
        return Err("Malformed CIDR, mask bits must not be negative".to_owned());
    }
    let ip = parse_ip(parts[0])?;
    let width: u32 = if ip.v6 { 128 } else { 32 };
    if ip.v6 && bits > 127 {
        return Err("IPv6 mask bits must be < 128".to_owned());
    }
    if !ip.v6 && bits > 31 {
        return Err("IPv4 mask bits must be < 32".to_owned());
    }
    let host_bits = width - bits as u32;
    let all: u128 = if ip.v6 {
        u128::MAX
    } else {
        u128::from(u32::MAX)
    };
    let mask = all & !((1u128 << host_bits) - 1);
    Ok(IpNet {
        v6: ip.v6,
        network: ip.bits & mask,
        mask,
    })
}

/// Parses an IP address literal: dotted-quad IPv4 (decimal octets, leading zeros allowed) or
/// IPv6 without brackets, zone or embedded dotted quad; IPv4-mapped IPv6 becomes IPv4.
pub(crate) fn parse_ip(text: &str) -> Result<Ip, String> {
    let octets: Vec<&str> = text.split('.').collect();
    let looks_v4 = octets.len() == 4
        && octets
            .iter()
            .all(|o| !o.is_empty() && o.bytes().all(|b| b.is_ascii_digit()));
    if looks_v4 {
        let mut bits: u32 = 0;
        for octet in octets {
            let trimmed = octet.trim_start_matches('0');
            let value = if trimmed.is_empty() {
                0
            } else if trimmed.len() > 3 {
                256
            } else {
                trimmed.parse::<u32>().unwrap_or(256)
            };
            if value > 255 {
                return Err(format!("Invalid IP address: {text}"));
            }
            bits = (bits << 8) | value;
        }
        return Ok(Ip {
            v6: false,
            bits: u128::from(bits),
        });
    }
    let looks_v6 = text.contains(':') && text.bytes().all(|b| b.is_ascii_hexdigit() || b == b':');
    if looks_v6 {
        let addr: Ipv6Addr = text
            .parse()
            .map_err(|_| format!("Invalid IP address: {text}"))?;
        if let Some(v4) = addr.to_ipv4_mapped() {
            return Ok(Ip {
                v6: false,
                bits: u128::from(u32::from(v4)),
            });
        }
        return Ok(Ip {
            v6: true,
            bits: u128::from(addr),
        });
    }
    Err(format!("Nonstandard IP address: {text}"))
}
