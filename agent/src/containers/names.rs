//! Random container names in Docker's style (`adjective_surname`).

/// Adjectives for generated names.
const ADJECTIVES: &[&str] = &[
    "admiring",
    "brave",
    "busy",
    "calm",
    "clever",
    "cool",
    "dazzling",
    "eager",
    "elegant",
    "fervent",
    "focused",
    "gallant",
    "gifted",
    "happy",
    "hopeful",
    "jolly",
    "keen",
    "kind",
    "lucid",
    "modest",
    "nifty",
    "optimistic",
    "peaceful",
    "quirky",
    "relaxed",
    "serene",
    "sharp",
    "stoic",
    "tender",
    "vibrant",
    "wizardly",
    "zealous",
];

/// Surnames of scientists and engineers, as Docker uses.
const NAMES: &[&str] = &[
    "agnesi",
    "babbage",
    "bell",
    "curie",
    "darwin",
    "dijkstra",
    "einstein",
    "euler",
    "faraday",
    "fermi",
    "franklin",
    "galileo",
    "goldberg",
    "hamilton",
    "hopper",
    "hypatia",
    "johnson",
    "kepler",
    "knuth",
    "lamarr",
    "lovelace",
    "meitner",
    "noether",
    "pascal",
    "ritchie",
    "shannon",
    "thompson",
    "turing",
    "volta",
    "wozniak",
    "yonath",
    "zhukovsky",
];

/// A random name; `attempt` > 0 adds a number, as Docker does on a clash.
pub fn random_name(attempt: u32) -> String {
    let bytes = hoist_runtime::fsutil::random_bytes(2);
    let adjective = ADJECTIVES[bytes[0] as usize % ADJECTIVES.len()];
    let name = NAMES[bytes[1] as usize % NAMES.len()];
    if attempt == 0 {
        format!("{adjective}_{name}")
    } else {
        format!("{adjective}_{name}{attempt}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_valid_container_names() {
        for attempt in 0..3 {
            let name = random_name(attempt);
            assert!(super::super::create::valid_name(&name), "{name}");
            assert!(name.contains('_'));
        }
    }
}
