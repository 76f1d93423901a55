//! "Did you mean ...?" hints for misspelt instructions and flags.

/// The closest of `options` to `word` (ignoring case), if it is close enough
/// to be a plausible typo: at most one edit for short words, two for longer.
pub(crate) fn did_you_mean<'a>(word: &str, options: &[&'a str]) -> Option<&'a str> {
    let word = word.to_lowercase();
    let limit = (word.chars().count() / 3).clamp(1, 2);
    options
        .iter()
        .map(|option| (distance(&word, &option.to_lowercase()), *option))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, option)| option)
}

/// Edit distance counting an insertion, deletion, substitution or swap of
/// two neighbours as one edit (optimal string alignment).
fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = best;
        }
    }
    d[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPTIONS: &[&str] = &["RUN", "FROM", "COPY", "WORKDIR", "EXPOSE", "ENV"];

    #[test]
    fn suggests_near_misses_only() {
        let cases = [
            ("RUNN", Some("RUN")),
            ("runn", Some("RUN")),
            ("FORM", Some("FROM")),
            ("CPY", Some("COPY")),
            ("WORKIR", Some("WORKDIR")),
            ("EXPOS", Some("EXPOSE")),
            ("XYZZY", None),
            ("US", None),
        ];
        for (word, want) in cases {
            assert_eq!(did_you_mean(word, OPTIONS), want, "{word}");
        }
    }
}
