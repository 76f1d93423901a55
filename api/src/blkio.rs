//! Block I/O settings of a container: Docker's `--blkio-weight`,
//! `--blkio-weight-device` and `--device-{read,write}-{bps,iops}`, their
//! syntax and checks, shared by the CLI, the compose crate and the daemon.

use serde::{Deserialize, Serialize};

use crate::units::parse_bytes;

/// A relative I/O weight for one block device (`/dev/sda:200`); Docker's
/// `HostConfig.BlkioWeightDevice` entry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct WeightDevice {
    /// The block device on the host.
    pub path: String,
    /// Its weight, 10 to 1000.
    pub weight: u16,
}

/// A rate limit on one block device (`/dev/sda:1mb`, `/dev/sda:1000`);
/// Docker's `HostConfig.BlkioDevice{Read,Write}{Bps,IOps}` entry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct ThrottleDevice {
    /// The block device on the host.
    pub path: String,
    /// Bytes or operations per second.
    pub rate: u64,
}

/// Checks a weight: 10 to 1000, or 0 for the kernel's.
pub fn check_weight(weight: u16) -> Result<(), String> {
    if weight == 0 || (10..=1000).contains(&weight) {
        Ok(())
    } else {
        Err(format!("invalid block I/O weight {weight}: use 10 to 1000"))
    }
}

/// Splits `PATH:VALUE`, the path absolute.
fn split<'a>(text: &'a str, what: &str) -> Result<(&'a str, &'a str), String> {
    match text.rsplit_once(':') {
        Some((path, value)) if path.starts_with('/') && !value.is_empty() => Ok((path, value)),
        _ => Err(format!(
            "invalid {what} {text:?}: use DEVICE:VALUE with the device's absolute path, like /dev/sda:{}",
            if what.contains("bps") { "1mb" } else { "100" }
        )),
    }
}

impl WeightDevice {
    /// Parses `--blkio-weight-device /dev/sda:200`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let (path, value) = split(text, "--blkio-weight-device")?;
        let weight: u16 = value
            .parse()
            .map_err(|_| format!("invalid weight {value:?} in {text:?}: use 10 to 1000"))?;
        if weight == 0 {
            return Err(format!("invalid weight 0 in {text:?}: use 10 to 1000"));
        }
        check_weight(weight)?;
        Ok(Self {
            path: path.to_string(),
            weight,
        })
    }
}

impl ThrottleDevice {
    /// Parses `--device-read-bps /dev/sda:1mb` (a size with Docker's units).
    pub fn parse_bps(text: &str) -> Result<Self, String> {
        let (path, value) = split(text, "bps limit")?;
        let rate = parse_bytes(value)
            .ok()
            .and_then(|b| u64::try_from(b).ok())
            .ok_or_else(|| format!("invalid rate {value:?} in {text:?}: use a size like 1mb"))?;
        Ok(Self {
            path: path.to_string(),
            rate,
        })
    }

    /// Parses `--device-read-iops /dev/sda:1000`.
    pub fn parse_iops(text: &str) -> Result<Self, String> {
        let (path, value) = split(text, "iops limit")?;
        let rate = value.parse().map_err(|_| {
            format!("invalid rate {value:?} in {text:?}: use a number of operations per second")
        })?;
        Ok(Self {
            path: path.to_string(),
            rate,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_dockers_forms() {
        assert_eq!(
            WeightDevice::parse("/dev/sda:200").unwrap(),
            WeightDevice {
                path: "/dev/sda".into(),
                weight: 200
            }
        );
        assert_eq!(
            ThrottleDevice::parse_bps("/dev/sda:1mb").unwrap(),
            ThrottleDevice {
                path: "/dev/sda".into(),
                rate: 1 << 20
            }
        );
        assert_eq!(
            ThrottleDevice::parse_bps("/dev/sda:4096").unwrap().rate,
            4096
        );
        assert_eq!(
            ThrottleDevice::parse_iops("/dev/disk/by-id/x:1000")
                .unwrap()
                .path,
            "/dev/disk/by-id/x"
        );
    }

    #[test]
    fn refuses_bad_values() {
        for bad in [
            "/dev/sda",
            "sda:200",
            "/dev/sda:5",
            "/dev/sda:1001",
            "/dev/sda:0",
            "/dev/sda:x",
        ] {
            assert!(WeightDevice::parse(bad).is_err(), "{bad:?} was accepted");
        }
        for bad in ["/dev/sda", "/dev/sda:", "/dev/sda:1zb", "dev/sda:1mb"] {
            assert!(
                ThrottleDevice::parse_bps(bad).is_err(),
                "{bad:?} was accepted"
            );
        }
        assert!(ThrottleDevice::parse_iops("/dev/sda:1mb").is_err());
        assert!(check_weight(5).is_err());
        assert!(check_weight(0).is_ok() && check_weight(500).is_ok());
    }
}
