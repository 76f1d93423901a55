//! Random identifiers: node and cluster IDs look like Docker's (25
//! characters of `[a-z0-9]`), Raft member IDs are non-zero 64-bit numbers.

/// The longest name of a service, secret, config or network (Docker's).
pub const MAX_NAME: usize = 64;

/// Whether `name` may name a secret, config or network: 1 to
/// [`MAX_NAME`] characters of `[a-zA-Z0-9_.-]`, starting with a letter or
/// digit.
pub fn is_valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
}

/// What is wrong with a `noun`'s name that [`is_valid_name`] refuses.
pub fn invalid_name(noun: &str, name: &str) -> String {
    format!(
        "{noun} name {name:?} must be 1-{MAX_NAME} characters of [a-zA-Z0-9_.-], starting with a letter or digit"
    )
}

const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";

/// A new node or cluster ID.
pub fn new_id() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 25];
    getrandom::fill(&mut bytes)?;
    // 256 is not a multiple of 36: the bias (under 1 %) does not matter
    // for uniqueness.
    Ok(bytes
        .iter()
        .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
        .collect())
}

/// A new Raft member ID.
pub fn new_raft_id() -> Result<u64, getrandom::Error> {
    loop {
        let mut bytes = [0u8; 8];
        getrandom::fill(&mut bytes)?;
        let id = u64::from_le_bytes(bytes);
        if id != 0 {
            return Ok(id);
        }
    }
}
