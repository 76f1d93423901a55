//! The instructions that only change an image's config (ENV, LABEL,
//! WORKDIR, USER, EXPOSE, VOLUME, CMD, ENTRYPOINT, HEALTHCHECK, SHELL,
//! STOPSIGNAL, ONBUILD, MAINTAINER), applied as Docker applies them.

use hoist_api::inspect::EmptyObject;
use hoist_api::spec::HealthcheckSpec;
use hoist_runtime::image::changes::set_env;
use hoist_runtime::image::config::RunConfig;
use hoist_runtime::image::dockerfile::{CommandForm, ExposedPorts, Healthcheck, Instruction, Run};

/// What applying a metadata instruction did beyond the config.
#[derive(Debug, Default, Clone, Copy)]
pub struct Applied {
    /// CMD was set (so a later ENTRYPOINT keeps it).
    pub set_cmd: bool,
}

/// The argv of a command form: exec as is, shell wrapped in `shell`.
pub fn argv(form: &CommandForm, shell: &[String]) -> Vec<String> {
    match form {
        CommandForm::Exec(args) => args.clone(),
        CommandForm::Shell(text) => {
            let mut argv = if shell.is_empty() {
                vec!["/bin/sh".to_string(), "-c".to_string()]
            } else {
                shell.to_vec()
            };
            argv.push(text.clone());
            argv
        }
    }
}

/// The argv of a RUN, heredocs included as BuildKit runs them: a RUN that
/// is only a heredoc runs its body as the script; otherwise the bodies
/// follow the command line in the script, for the shell to read.
pub fn run_argv(run: &Run, shell: &[String]) -> Vec<String> {
    let CommandForm::Shell(line) = &run.command else {
        return argv(&run.command, shell);
    };
    if run.heredocs.is_empty() {
        return argv(&run.command, shell);
    }
    let script = match run.heredocs.as_slice() {
        [heredoc] if is_only(line, &heredoc.name) => heredoc.body(),
        heredocs => {
            let mut script = line.clone();
            for heredoc in heredocs {
                script.push('\n');
                script.push_str(&heredoc.content);
                script.push_str(&heredoc.name);
            }
            script.push('\n');
            script
        }
    };
    argv(&CommandForm::Shell(script), shell)
}

/// Whether a RUN line is nothing but the heredoc `name` (`<<EOF`,
/// `<<-"EOF"`).
fn is_only(line: &str, name: &str) -> bool {
    let Some(marker) = line.trim().strip_prefix("<<") else {
        return false;
    };
    marker.trim_start_matches('-').trim_matches(['"', '\'']) == name
}

/// `path` against the working directory, as WORKDIR and COPY read it.
pub fn resolve_path(working_dir: &str, path: &str) -> String {
    if path.starts_with('/') {
        path.to_string()
    } else {
        let base = if working_dir.is_empty() {
            "/"
        } else {
            working_dir
        };
        format!("{}/{path}", base.trim_end_matches('/'))
    }
}

fn nanos(duration: Option<std::time::Duration>) -> i64 {
    duration.map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

/// Applies a metadata instruction to `config`; `cmd_set_here` says
/// whether this stage set CMD (Docker clears an inherited CMD when an
/// ENTRYPOINT is set). Returns `None` for instructions that are not
/// metadata (RUN, COPY, ADD, ARG).
pub fn apply(
    config: &mut RunConfig,
    instruction: &Instruction,
    cmd_set_here: bool,
) -> Result<Option<Applied>, String> {
    let mut applied = Applied::default();
    match instruction {
        Instruction::Env(pairs) => {
            for (key, value) in pairs {
                set_env(&mut config.env, key, value);
            }
        }
        Instruction::Label(pairs) => {
            for (key, value) in pairs {
                config.labels.insert(key.clone(), value.clone());
            }
        }
        Instruction::Workdir(dir) => {
            config.working_dir = resolve_path(&config.working_dir, dir);
        }
        Instruction::User(user) => config.user = user.clone(),
        Instruction::Expose(ports) => {
            for port in ports {
                for key in ExposedPorts::parse(port)?.keys() {
                    config.exposed_ports.insert(key, EmptyObject {});
                }
            }
        }
        Instruction::Volume(paths) => {
            for path in paths {
                config.volumes.insert(path.clone(), EmptyObject {});
            }
        }
        Instruction::Cmd(form) => {
            config.cmd = Some(argv(form, &config.shell));
            applied.set_cmd = true;
        }
        Instruction::Entrypoint(form) => {
            config.entrypoint = Some(argv(form, &config.shell));
            if !cmd_set_here {
                config.cmd = None;
            }
        }
        Instruction::Healthcheck(check) => {
            config.healthcheck = Some(match check {
                Healthcheck::None => HealthcheckSpec {
                    test: check.test(),
                    ..Default::default()
                },
                Healthcheck::Cmd(cmd) => HealthcheckSpec {
                    test: check.test(),
                    interval: nanos(cmd.interval),
                    timeout: nanos(cmd.timeout),
                    start_period: nanos(cmd.start_period),
                    start_interval: nanos(cmd.start_interval),
                    retries: i64::from(cmd.retries.unwrap_or(0)),
                },
            });
        }
        Instruction::Shell(shell) => config.shell = shell.clone(),
        Instruction::StopSignal(signal) => config.stop_signal = signal.clone(),
        Instruction::OnBuild(trigger) => config.on_build.push(trigger.expression.clone()),
        Instruction::Maintainer(_) => {}
        Instruction::Run(_) | Instruction::Copy(_) | Instruction::Add(_) | Instruction::Arg(_) => {
            return Ok(None);
        }
    }
    Ok(Some(applied))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entrypoint_clears_an_inherited_cmd_but_not_its_own() {
        let mut config = RunConfig {
            cmd: Some(vec!["sh".into()]),
            ..Default::default()
        };
        let entrypoint = Instruction::Entrypoint(CommandForm::Exec(vec!["/app".into()]));
        apply(&mut config, &entrypoint, false).unwrap();
        assert_eq!(config.cmd, None);
        let cmd = Instruction::Cmd(CommandForm::Shell("serve".into()));
        let applied = apply(&mut config, &cmd, false).unwrap().unwrap();
        assert!(applied.set_cmd);
        apply(&mut config, &entrypoint, true).unwrap();
        assert_eq!(
            config.cmd,
            Some(vec!["/bin/sh".into(), "-c".into(), "serve".into()])
        );
    }

    #[test]
    fn workdir_env_expose_and_paths() {
        let mut config = RunConfig::default();
        apply(&mut config, &Instruction::Workdir("/app".into()), false).unwrap();
        apply(&mut config, &Instruction::Workdir("src".into()), false).unwrap();
        assert_eq!(config.working_dir, "/app/src");
        apply(
            &mut config,
            &Instruction::Env(vec![("A".into(), "1".into()), ("A".into(), "2".into())]),
            false,
        )
        .unwrap();
        assert_eq!(config.env, ["A=2"]);
        apply(
            &mut config,
            &Instruction::Expose(vec!["80".into(), "53/udp".into()]),
            false,
        )
        .unwrap();
        assert!(config.exposed_ports.contains_key("80/tcp"));
        assert!(config.exposed_ports.contains_key("53/udp"));
        assert_eq!(resolve_path("", "x"), "/x");
        assert_eq!(resolve_path("/a/", "/b"), "/b");
    }
}
