//! `--change` for `import` and `commit`: Dockerfile instructions applied to an
//! image's run config (`CMD ["sh"]`, `ENV PATH=/bin`, `EXPOSE 80/tcp`, …).

use hoist_api::inspect::EmptyObject;

use super::config::RunConfig;

/// Why a `--change` value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid --change {change:?}: {reason}")]
pub struct ChangeError {
    /// The instruction as given.
    pub change: String,
    /// What was wrong and what is allowed.
    pub reason: String,
}

/// Applies each instruction in order to `config`.
pub fn apply_changes(config: &mut RunConfig, changes: &[String]) -> Result<(), ChangeError> {
    for change in changes {
        apply_change(config, change).map_err(|reason| ChangeError {
            change: change.clone(),
            reason,
        })?;
    }
    Ok(())
}

fn apply_change(config: &mut RunConfig, change: &str) -> Result<(), String> {
    let change = change.trim();
    let (instruction, args) = change
        .split_once(char::is_whitespace)
        .unwrap_or((change, ""));
    let args = args.trim();
    match instruction.to_ascii_uppercase().as_str() {
        "CMD" => config.cmd = Some(command_form(args, &config.shell)?),
        "ENTRYPOINT" => config.entrypoint = Some(command_form(args, &config.shell)?),
        "ENV" => {
            for (key, value) in key_values(args, true)? {
                set_env(&mut config.env, &key, &value);
            }
        }
        "LABEL" => {
            for (key, value) in key_values(args, false)? {
                config.labels.insert(key, value);
            }
        }
        "EXPOSE" => {
            for port in words(args)? {
                config
                    .exposed_ports
                    .insert(normalise_port(&port)?, EmptyObject {});
            }
        }
        "VOLUME" => {
            let paths = if args.starts_with('[') {
                json_array(args)?
            } else {
                words(args)?
            };
            for path in paths {
                config.volumes.insert(path, EmptyObject {});
            }
        }
        "WORKDIR" => {
            let dir = single(args)?;
            config.working_dir = if dir.starts_with('/') || config.working_dir.is_empty() {
                dir
            } else {
                format!("{}/{dir}", config.working_dir.trim_end_matches('/'))
            };
        }
        "USER" => config.user = single(args)?,
        "STOPSIGNAL" => config.stop_signal = single(args)?,
        "ONBUILD" => config.on_build.push(args.to_string()),
        other => {
            return Err(format!(
                "{other} cannot be changed here; use CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD, STOPSIGNAL, USER, VOLUME or WORKDIR"
            ));
        }
    }
    Ok(())
}

/// Sets `KEY=value` in an environment list, replacing an earlier `KEY`.
pub fn set_env(env: &mut Vec<String>, key: &str, value: &str) {
    let entry = format!("{key}={value}");
    match env.iter_mut().find(|e| e.split('=').next() == Some(key)) {
        Some(existing) => *existing = entry,
        None => env.push(entry),
    }
}

/// The exec form `["a", "b"]` as is, or the shell form wrapped in the shell.
fn command_form(args: &str, shell: &[String]) -> Result<Vec<String>, String> {
    if args.starts_with('[')
        && let Ok(list) = json_array(args)
    {
        return Ok(list);
    }
    if args.is_empty() {
        return Ok(Vec::new());
    }
    let mut out = if shell.is_empty() {
        vec!["/bin/sh".to_string(), "-c".to_string()]
    } else {
        shell.to_vec()
    };
    out.push(args.to_string());
    Ok(out)
}

fn json_array(args: &str) -> Result<Vec<String>, String> {
    serde_json::from_str(args).map_err(|e| format!("not a JSON array of strings: {e}"))
}

fn single(args: &str) -> Result<String, String> {
    let mut w = words(args)?;
    match w.len() {
        1 => Ok(w.remove(0)),
        0 => Err("needs exactly one argument".into()),
        _ => Err("takes exactly one argument".into()),
    }
}

/// `k=v k2="v 2"`, or the legacy `KEY value with spaces` when `legacy` is
/// allowed and the first word has no `=`.
fn key_values(args: &str, legacy: bool) -> Result<Vec<(String, String)>, String> {
    let list = words(args)?;
    if list.is_empty() {
        return Err("needs at least one key=value pair".into());
    }
    if legacy && !list[0].contains('=') {
        let (key, value) = args
            .split_once(char::is_whitespace)
            .ok_or("needs a value")?;
        return Ok(vec![(key.to_string(), value.trim().to_string())]);
    }
    list.into_iter()
        .map(|word| {
            let (k, v) = word
                .split_once('=')
                .ok_or_else(|| format!("{word:?} is not key=value"))?;
            if k.is_empty() {
                return Err(format!("{word:?} has an empty key"));
            }
            Ok((k.to_string(), v.to_string()))
        })
        .collect()
}

/// Splits on whitespace, honouring double and single quotes and backslash
/// escapes as the Dockerfile parser does.
pub fn words(input: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut in_word = false;
    let mut chars = input.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut current));
                    in_word = false;
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(e @ ('"' | '\\' | '$')) => current.push(e),
                            Some(e) => {
                                current.push('\\');
                                current.push(e);
                            }
                            None => return Err("unterminated escape".into()),
                        },
                        Some(ch) => current.push(ch),
                        None => return Err("unterminated double quote".into()),
                    }
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(ch) => current.push(ch),
                        None => return Err("unterminated single quote".into()),
                    }
                }
            }
            '\\' => {
                in_word = true;
                match chars.next() {
                    Some(e) => current.push(e),
                    None => return Err("unterminated escape".into()),
                }
            }
            c => {
                in_word = true;
                current.push(c);
            }
        }
    }
    if in_word {
        out.push(current);
    }
    Ok(out)
}

/// `80` → `80/tcp`; checks the number and protocol.
fn normalise_port(port: &str) -> Result<String, String> {
    let (number, proto) = port.split_once('/').unwrap_or((port, "tcp"));
    let valid_number = |n: &str| n.parse::<u16>().is_ok_and(|n| n > 0);
    let ok = match number.split_once('-') {
        Some((a, b)) => valid_number(a) && valid_number(b),
        None => valid_number(number),
    };
    if !ok || !matches!(proto, "tcp" | "udp" | "sctp") {
        return Err(format!(
            "invalid port {port:?}: use PORT[/tcp|udp|sctp] with PORT 1-65535"
        ));
    }
    Ok(format!("{number}/{proto}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn changed(changes: &[&str]) -> RunConfig {
        let mut config = RunConfig::default();
        apply_changes(
            &mut config,
            &changes.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
        )
        .unwrap();
        config
    }

    #[test]
    fn applies_docker_instructions() {
        let c = changed(&[
            "ENV PATH=/bin",
            "ENV A=1 B=\"two words\"",
            "ENV LEGACY some value",
            "CMD [\"sh\", \"-c\", \"echo hi\"]",
            "ENTRYPOINT echo hello",
            "EXPOSE 80 53/udp",
            "WORKDIR /srv",
            "WORKDIR app",
            "USER 1000:1000",
            "LABEL a=b c='d e'",
            "VOLUME /data",
        ]);
        assert_eq!(
            c.env,
            vec!["PATH=/bin", "A=1", "B=two words", "LEGACY=some value"]
        );
        assert_eq!(c.cmd.unwrap(), vec!["sh", "-c", "echo hi"]);
        assert_eq!(c.entrypoint.unwrap(), vec!["/bin/sh", "-c", "echo hello"]);
        assert!(c.exposed_ports.contains_key("80/tcp") && c.exposed_ports.contains_key("53/udp"));
        assert_eq!(c.working_dir, "/srv/app");
        assert_eq!(c.user, "1000:1000");
        assert_eq!(c.labels["c"], "d e");
        assert!(c.volumes.contains_key("/data"));
    }

    #[test]
    fn env_replaces_earlier_values() {
        let c = changed(&["ENV A=1", "ENV A=2"]);
        assert_eq!(c.env, vec!["A=2"]);
    }

    #[test]
    fn refuses_what_docker_refuses() {
        let mut config = RunConfig::default();
        for bad in [
            "RUN echo",
            "EXPOSE 99999",
            "EXPOSE 80/foo",
            "WORKDIR",
            "ENV =x",
            "LABEL \"open",
        ] {
            assert!(
                apply_changes(&mut config, &[bad.to_string()]).is_err(),
                "{bad} should be refused"
            );
        }
    }
}
