//! Running `nft -j -f -` with a batch on its standard input.
//!
//! Not `nftables::helper`: it lets `nft`'s standard error through to ours,
//! so its errors would carry no reason.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use nftables::schema::Nftables;

use super::FirewallError;

/// Where Debian puts `nft`, for when it is not on `PATH`.
const FALLBACK_NFT: &str = "/usr/sbin/nft";

/// Applies `batch` in one transaction, in the calling thread's network
/// namespace (the child inherits it).
pub(super) fn run(batch: &Nftables<'_>, action: &'static str) -> Result<(), FirewallError> {
    let payload = serde_json::to_vec(batch).map_err(FirewallError::Encode)?;
    let program = program();
    let run_error = |source| FirewallError::Run {
        program: program.clone(),
        source,
    };
    let mut child = Command::new(&program)
        .args(["-j", "-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(run_error)?;
    // nft reads all of its input before it says anything: no deadlock.
    let written = child
        .stdin
        .take()
        .map(|mut stdin| stdin.write_all(&payload));
    let output = child.wait_with_output().map_err(run_error)?;
    if !output.status.success() {
        return Err(FirewallError::Nft {
            action,
            status: output.status,
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        });
    }
    match written {
        Some(Err(source)) => Err(run_error(source)),
        _ => Ok(()),
    }
}

/// `nft` from `PATH`, else where Debian puts it.
fn program() -> PathBuf {
    std::env::var_os("PATH")
        .and_then(|path| {
            std::env::split_paths(&path)
                .map(|dir| dir.join("nft"))
                .find(|candidate| candidate.is_file())
        })
        .unwrap_or_else(|| PathBuf::from(FALLBACK_NFT))
}
