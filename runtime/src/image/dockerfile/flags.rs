//! Builder flags (`COPY --from=build`, `RUN --network=none`): checking the
//! flags an instruction was given against the ones it accepts, as
//! BuildKit's `BFlags` does.

use super::suggest::did_you_mean;

/// What a flag holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `--link`, `--link=true|false`.
    Bool,
    /// `--from=x`, given at most once.
    String,
    /// `--mount=x`, may be repeated.
    Strings,
}

/// A flag an instruction accepts.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Spec {
    pub(crate) name: &'static str,
    pub(crate) kind: Kind,
    /// Docker knows the flag but hoist cannot honour it yet: using it is a
    /// clear error rather than "unknown flag" or a silent difference.
    pub(crate) supported: bool,
}

impl Spec {
    /// A flag hoist honours.
    pub(crate) const fn new(name: &'static str, kind: Kind) -> Self {
        Spec {
            name,
            kind,
            supported: true,
        }
    }

    /// A Docker flag hoist does not support yet.
    pub(crate) const fn unsupported(name: &'static str, kind: Kind) -> Self {
        Spec {
            name,
            kind,
            supported: false,
        }
    }
}

/// The flags given to one instruction, checked against its specs.
#[derive(Debug, Default)]
pub(crate) struct Flags {
    values: Vec<(&'static str, String)>,
}

impl Flags {
    /// Checks `given` (`--name[=value]` words) against `specs`.
    pub(crate) fn parse(given: &[String], specs: &[Spec]) -> Result<Flags, String> {
        let mut flags = Flags::default();
        for arg in given {
            let body = arg.strip_prefix("--").unwrap_or(arg);
            let (name, value) = match body.split_once('=') {
                Some((name, value)) => (name, Some(value)),
                None => (body, None),
            };
            let Some(spec) = specs.iter().find(|s| s.name == name) else {
                return Err(unknown_flag(name, specs));
            };
            if !spec.supported {
                return Err(format!(
                    "--{name} is not supported yet by hoist; remove it, or build this \
                     Dockerfile with Docker"
                ));
            }
            if spec.kind != Kind::Strings && flags.values.iter().any(|(n, _)| *n == spec.name) {
                return Err(format!(
                    "flag --{name} is given more than once; give it once"
                ));
            }
            let value = match (spec.kind, value) {
                (Kind::Bool, None) => "true".to_string(),
                (Kind::Bool, Some(v)) if v.eq_ignore_ascii_case("true") => "true".to_string(),
                (Kind::Bool, Some(v)) if v.eq_ignore_ascii_case("false") => "false".to_string(),
                (Kind::Bool, Some(v)) => {
                    return Err(format!(
                        "flag --{name} expects true or false, not {v:?}; write --{name} or --{name}=false"
                    ));
                }
                (_, Some(v)) => v.to_string(),
                (_, None) => {
                    return Err(format!(
                        "flag --{name} is missing its value; write --{name}=<value>"
                    ));
                }
            };
            flags.values.push((spec.name, value));
        }
        Ok(flags)
    }

    /// The value of a string flag, if given (an empty value counts as not
    /// given, as in Docker).
    pub(crate) fn string(&self, name: &str) -> Option<String> {
        self.values
            .iter()
            .rev()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.clone())
            .filter(|v| !v.is_empty())
    }

    /// Every value of a repeatable flag, in order.
    pub(crate) fn strings(&self, name: &str) -> Vec<String> {
        self.values
            .iter()
            .filter(|(n, _)| *n == name)
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// Whether a boolean flag is on.
    pub(crate) fn bool(&self, name: &str) -> bool {
        self.values.iter().any(|(n, v)| *n == name && v == "true")
    }
}

fn unknown_flag(name: &str, specs: &[Spec]) -> String {
    let known: Vec<&str> = specs
        .iter()
        .filter(|s| s.supported)
        .map(|s| s.name)
        .collect();
    let hint = did_you_mean(name, &known)
        .map(|s| format!(" (did you mean --{s}?)"))
        .unwrap_or_default();
    if known.is_empty() {
        format!("unknown flag --{name}{hint}; this instruction takes no flags")
    } else {
        let list: Vec<String> = known.iter().map(|s| format!("--{s}")).collect();
        format!("unknown flag --{name}{hint}; expected {}", list.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPECS: &[Spec] = &[
        Spec::new("from", Kind::String),
        Spec::new("link", Kind::Bool),
        Spec::unsupported("mount", Kind::Strings),
    ];

    fn parse(given: &[&str]) -> Result<Flags, String> {
        let given: Vec<String> = given.iter().map(|s| s.to_string()).collect();
        Flags::parse(&given, SPECS)
    }

    #[test]
    fn reads_values() {
        let f = parse(&["--from=build", "--link"]).unwrap();
        assert_eq!(f.string("from").as_deref(), Some("build"));
        assert!(f.bool("link"));
        let f = parse(&["--link=FALSE", "--from="]).unwrap();
        assert!(!f.bool("link"));
        assert_eq!(f.string("from"), None);
    }

    #[test]
    fn reports_bad_flags() {
        let cases: [(&[&str], &str); 6] = [
            (
                &["--form=x"],
                "unknown flag --form (did you mean --from?); expected --from, --link",
            ),
            (
                &["--from"],
                "flag --from is missing its value; write --from=<value>",
            ),
            (
                &["--from=a", "--from=b"],
                "flag --from is given more than once; give it once",
            ),
            (
                &["--link=yes"],
                "flag --link expects true or false, not \"yes\"; write --link or --link=false",
            ),
            (
                &["--mount=type=cache,target=/x"],
                "--mount is not supported yet by hoist",
            ),
            (&["--zzz"], "unknown flag --zzz; expected --from, --link"),
        ];
        for (given, want) in cases {
            let err = parse(given).unwrap_err();
            assert!(err.starts_with(want), "{given:?}: {err}");
        }
        let err = Flags::parse(&["--x".to_string()], &[]).unwrap_err();
        assert_eq!(err, "unknown flag --x; this instruction takes no flags");
    }
}
