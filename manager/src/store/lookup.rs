//! Finding an object the way users name it: by ID, by name, or by a
//! unique ID prefix (`service ps 3fa`), as Docker does everywhere.

use super::objects::Stored;

/// What a reference matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup<T> {
    /// Exactly one object.
    Found(T),
    /// None.
    Missing,
    /// Several objects whose IDs start with the reference.
    Ambiguous(usize),
}

/// The object of `all` that `reference` names: an exact ID or name first,
/// then an ID prefix if only one ID has it.
pub fn lookup<T: Stored>(all: Vec<T>, reference: &str, name: impl Fn(&T) -> &str) -> Lookup<T> {
    lookup_by(all, reference, |o| &o.meta().id, name)
}

/// [`lookup`] among things that are not store objects (the views a client
/// receives), with their ID given by `id`.
pub fn lookup_by<T>(
    mut all: Vec<T>,
    reference: &str,
    id: impl Fn(&T) -> &str,
    name: impl Fn(&T) -> &str,
) -> Lookup<T> {
    if let Some(exact) = all
        .iter()
        .position(|o| id(o) == reference || name(o) == reference)
    {
        return Lookup::Found(all.swap_remove(exact));
    }
    let mut matches: Vec<T> = all
        .into_iter()
        .filter(|o| !reference.is_empty() && id(o).starts_with(reference))
        .collect();
    match matches.len() {
        0 => Lookup::Missing,
        1 => Lookup::Found(matches.remove(0)),
        count => Lookup::Ambiguous(count),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::objects::Service;

    fn service(id: &str, name: &str) -> Service {
        let mut service = Service::default();
        service.meta.id = id.into();
        service.spec.name = name.into();
        service
    }

    fn find(reference: &str) -> Lookup<String> {
        let all = vec![
            service("abc1", "web"),
            service("abd2", "db"),
            service("web", "x"),
        ];
        match lookup(all, reference, |s| &s.spec.name) {
            Lookup::Found(s) => Lookup::Found(s.meta.id),
            Lookup::Missing => Lookup::Missing,
            Lookup::Ambiguous(n) => Lookup::Ambiguous(n),
        }
    }

    #[test]
    fn ids_and_names_win_over_prefixes_and_prefixes_must_be_unique() {
        assert_eq!(find("abd2"), Lookup::Found("abd2".into()));
        assert_eq!(find("db"), Lookup::Found("abd2".into()));
        assert_eq!(find("web"), Lookup::Found("abc1".into()));
        assert_eq!(find("abc"), Lookup::Found("abc1".into()));
        assert_eq!(find("ab"), Lookup::Ambiguous(2));
        assert_eq!(find("zz"), Lookup::Missing);
        assert_eq!(find(""), Lookup::Missing);
    }
}
