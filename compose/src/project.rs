//! Loading a whole project as `docker compose` does: which files (`-f`,
//! `COMPOSE_FILE`, or `compose.yaml` and its override found from the
//! working directory up), which variables (`.env` or `--env-file`, the
//! process environment first), each file parsed, interpolated, checked
//! against the schema and its `extends` resolved, the files merged in
//! order, relative paths resolved, `include`s loaded as projects of their
//! own, profiles applied, the project named and the model normalised.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::{LoadError, ModelPath};
use crate::node::{Key, Node, Origin, Value};
use crate::normalize::{Context, normalize};
use crate::paths::{Base, host_path, resolve_paths};
use crate::{dotenv, extends, interpolate, merge, schema};

/// The files Compose looks for when none is named, in order of preference.
const DEFAULT_FILES: [&str; 4] = [
    "compose.yaml",
    "compose.yml",
    "docker-compose.yml",
    "docker-compose.yaml",
];
/// The override files read beside a default file found by the search.
const OVERRIDE_FILES: [&str; 4] = [
    "compose.override.yaml",
    "compose.override.yml",
    "docker-compose.override.yml",
    "docker-compose.override.yaml",
];

/// What the command line and the environment say about the project.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// `-f` files, in order (none: `COMPOSE_FILE` or the default search).
    pub files: Vec<PathBuf>,
    /// `--project-directory`.
    pub project_directory: Option<PathBuf>,
    /// `-p`.
    pub project_name: Option<String>,
    /// `--env-file` files (none: `.env` in the project directory).
    pub env_files: Vec<PathBuf>,
    /// `--profile` names (none: `COMPOSE_PROFILES`).
    pub profiles: Vec<String>,
    /// The process environment; it wins over env files.
    pub environment: BTreeMap<String, String>,
    /// The working directory relative paths on the command line start from.
    pub working_dir: PathBuf,
}

/// A loaded, normalised project.
#[derive(Debug, Clone)]
pub struct Project {
    /// The project name (`-p`, `COMPOSE_PROJECT_NAME`, `name:` or the
    /// directory's name).
    pub name: String,
    /// The project directory.
    pub directory: PathBuf,
    /// The compose files, in merge order.
    pub files: Vec<PathBuf>,
    /// The variables interpolation used.
    pub environment: BTreeMap<String, String>,
    /// The active profiles.
    pub profiles: Vec<String>,
    /// The normalised model.
    pub model: Node,
}

/// Loads the project `options` describe.
pub fn load(options: &LoadOptions) -> Result<Project, LoadError> {
    let home = options.environment.get("HOME").map(PathBuf::from);
    let absolute = |p: &Path| clean_join(&options.working_dir, p);
    let first_dir = options
        .project_directory
        .as_deref()
        .map(absolute)
        .or_else(|| {
            options
                .files
                .first()
                .and_then(|f| absolute(f).parent().map(Path::to_path_buf))
        })
        .unwrap_or_else(|| options.working_dir.clone());
    let env_files: Vec<PathBuf> = options.env_files.iter().map(|f| absolute(f)).collect();
    let mut environment = variables(&env_files, &first_dir, &options.environment)?;
    let files = compose_files(options, &environment)?;
    let directory = match &options.project_directory {
        Some(dir) => absolute(dir),
        None => files[0]
            .parent()
            .map_or_else(|| options.working_dir.clone(), Path::to_path_buf),
    };
    if directory != first_dir && env_files.is_empty() {
        environment = variables(&env_files, &directory, &options.environment)?;
    }
    let lookup = |name: &str| environment.get(name).cloned();
    let mut stack = Vec::new();
    let mut model = load_model(&files, &directory, home.as_deref(), &lookup, &mut stack)?;
    let profiles = active_profiles(options, &environment);
    apply_profiles(&mut model, &profiles)?;
    let name = project_name(options, &environment, &model, &directory)?;
    schema::validate(&model)?;
    normalize(&mut model, &Context { name: &name })?;
    Ok(Project {
        name,
        directory,
        files,
        environment,
        profiles,
        model,
    })
}

/// The variables for interpolation: env files (or `.env` in `directory`
/// when there is one), then the process environment over them.
fn variables(
    env_files: &[PathBuf],
    directory: &Path,
    process: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>, LoadError> {
    let lookup = |name: &str| process.get(name).cloned();
    let mut vars = BTreeMap::new();
    let default_env = directory.join(".env");
    let files: Vec<&Path> = if env_files.is_empty() {
        if default_env.is_file() {
            vec![default_env.as_path()]
        } else {
            Vec::new()
        }
    } else {
        env_files.iter().map(PathBuf::as_path).collect()
    };
    for file in files {
        let read_so_far = vars.clone();
        let lookup = |name: &str| lookup(name).or_else(|| read_so_far.get(name).cloned());
        for (key, value) in dotenv::read(file, &lookup)? {
            vars.insert(key, value);
        }
    }
    vars.extend(process.iter().map(|(k, v)| (k.clone(), v.clone())));
    Ok(vars)
}

/// `-f` files, else `COMPOSE_FILE`, else the default search.
fn compose_files(
    options: &LoadOptions,
    environment: &BTreeMap<String, String>,
) -> Result<Vec<PathBuf>, LoadError> {
    if !options.files.is_empty() {
        return Ok(options
            .files
            .iter()
            .map(|f| clean_join(&options.working_dir, f))
            .collect());
    }
    if let Some(list) = environment.get("COMPOSE_FILE").filter(|l| !l.is_empty()) {
        let separator = environment
            .get("COMPOSE_PATH_SEPARATOR")
            .map_or(":", String::as_str);
        return Ok(list
            .split(separator)
            .filter(|f| !f.is_empty())
            .map(|f| clean_join(&options.working_dir, Path::new(f)))
            .collect());
    }
    let mut dir = Some(options.working_dir.as_path());
    while let Some(here) = dir {
        if let Some(found) = DEFAULT_FILES
            .iter()
            .map(|f| here.join(f))
            .find(|f| f.is_file())
        {
            let mut files = vec![found];
            files.extend(
                OVERRIDE_FILES
                    .iter()
                    .map(|f| here.join(f))
                    .find(|f| f.is_file()),
            );
            return Ok(files);
        }
        dir = here.parent();
    }
    Err(LoadError::file(
        &options.working_dir,
        "no configuration file provided: not found (looked for compose.yaml, compose.yml, docker-compose.yml and docker-compose.yaml here and in every parent directory; name one with -f)",
    ))
}

/// Loads `files` as one model: each parsed, interpolated, validated and
/// its `extends` resolved, then merged in order; relative paths resolved
/// against `directory`; `include`s added.
fn load_model(
    files: &[PathBuf],
    directory: &Path,
    home: Option<&Path>,
    lookup: &dyn Fn(&str) -> Option<String>,
    stack: &mut Vec<PathBuf>,
) -> Result<Node, LoadError> {
    let mut merged: Option<Node> = None;
    for file in files {
        let mut node = read_file(file, lookup)?;
        extends::resolve(&mut node, file, &|other: &Path| read_file(other, lookup))?;
        merged = Some(match merged {
            None => merge::settle_tags(node),
            Some(base) => merge::merge(base, node)?,
        });
    }
    let Some(mut model) = merged else {
        return Err(LoadError::file(directory, "no compose file to load"));
    };
    resolve_paths(&mut model, Base { directory, home });
    include(&mut model, directory, home, lookup, stack)?;
    Ok(model)
}

/// One compose file: read, parsed, interpolated and checked against the
/// schema on its own (so problems are reported in the file they are in).
fn read_file(file: &Path, lookup: &dyn Fn(&str) -> Option<String>) -> Result<Node, LoadError> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| LoadError::file(file, format!("cannot read the compose file: {e}")))?;
    let mut node = Node::parse(file, &text)?;
    match &node.value {
        Value::Null => return Err(LoadError::file(file, "empty compose file")),
        Value::Map(_) => {}
        _ => {
            return Err(LoadError::at(
                node.origin.clone(),
                None,
                format!(
                    "a compose file must be a mapping (of services, networks, volumes, …), not {}",
                    node.kind()
                ),
            ));
        }
    }
    interpolate::interpolate(&mut node, lookup)?;
    schema::validate(&node)?;
    Ok(node)
}

/// Loads every `include:` entry as a project of its own and copies its
/// resources in; the same name defined twice is an error.
fn include(
    model: &mut Node,
    directory: &Path,
    home: Option<&Path>,
    lookup: &dyn Fn(&str) -> Option<String>,
    stack: &mut Vec<PathBuf>,
) -> Result<(), LoadError> {
    let Some(entries) = model.as_map_mut().and_then(|m| m.remove("include")) else {
        return Ok(());
    };
    let base = Base { directory, home };
    for (i, entry) in entries.as_seq().unwrap_or_default().iter().enumerate() {
        let path = ModelPath::root().key("include").index(i);
        let files = include_files(entry, base);
        let Some(first) = files.first() else {
            return Err(LoadError::at(
                entry.origin.clone(),
                Some(&path),
                "an include needs `path`",
            ));
        };
        if let Some(start) = stack.iter().position(|f| f == first) {
            let mut cycle: Vec<String> = stack[start..]
                .iter()
                .map(|f| f.display().to_string())
                .collect();
            cycle.push(first.display().to_string());
            return Err(LoadError::at(
                entry.origin.clone(),
                Some(&path),
                format!("include cycle detected: {}", cycle.join(" -> ")),
            ));
        }
        let sub_directory = entry
            .get("project_directory")
            .and_then(Node::as_str)
            .map(|d| host_path(d, base))
            .or_else(|| first.parent().map(Path::to_path_buf))
            .unwrap_or_else(|| directory.to_path_buf());
        let env_files: Vec<PathBuf> = string_or_list(entry.get("env_file"))
            .iter()
            .map(|f| host_path(f, base))
            .collect();
        let local: BTreeMap<String, String> = BTreeMap::new();
        let mut sub_vars = variables(&env_files, &sub_directory, &local)?;
        let sub_lookup = |name: &str| lookup(name).or_else(|| sub_vars.get(name).cloned());
        stack.push(first.clone());
        let included = load_model(&files, &sub_directory, home, &sub_lookup, stack);
        stack.pop();
        sub_vars.clear();
        copy_resources(model, included?, &path)?;
    }
    Ok(())
}

/// The files one include entry names (short syntax or `path:`).
fn include_files(entry: &Node, base: Base<'_>) -> Vec<PathBuf> {
    let paths = match &entry.value {
        Value::String(path) => vec![path.clone()],
        Value::Map(map) => string_or_list(map.get("path")),
        _ => Vec::new(),
    };
    paths.iter().map(|p| host_path(p, base)).collect()
}

/// A string or a sequence of strings, as a list.
fn string_or_list(node: Option<&Node>) -> Vec<String> {
    match node.map(|n| &n.value) {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Seq(items)) => items.iter().filter_map(Node::scalar_text).collect(),
        _ => Vec::new(),
    }
}

/// Copies an included model's services, networks, volumes, secrets and
/// configs into `model`.
fn copy_resources(model: &mut Node, included: Node, path: &ModelPath) -> Result<(), LoadError> {
    let origin = model.origin.clone();
    let (Some(target), Value::Map(mut source)) = (model.as_map_mut(), included.value) else {
        return Ok(());
    };
    for kind in ["services", "networks", "volumes", "secrets", "configs"] {
        let Some(Node {
            value: Value::Map(resources),
            ..
        }) = source.remove(kind)
        else {
            continue;
        };
        if target.get(kind).and_then(Node::as_map).is_none() {
            target.insert(
                Key {
                    name: kind.into(),
                    origin: origin.clone(),
                },
                Node::new(Value::Map(Default::default()), origin.clone()),
            );
        }
        let Some(existing) = target.get_mut(kind).and_then(Node::as_map_mut) else {
            continue;
        };
        for (name, resource) in resources.entries {
            match existing.get(&name.name) {
                Some(mine) if mine.to_json() != resource.to_json() => {
                    return Err(LoadError::at(
                        resource.origin.clone(),
                        Some(path),
                        format!(
                            "the included file defines {kind}.{} differently from the including project; rename one of them",
                            name.name
                        ),
                    ));
                }
                Some(_) => {}
                None => existing.insert(name, resource),
            }
        }
    }
    Ok(())
}

/// `--profile` names, else `COMPOSE_PROFILES`.
fn active_profiles(options: &LoadOptions, environment: &BTreeMap<String, String>) -> Vec<String> {
    if !options.profiles.is_empty() {
        return options.profiles.clone();
    }
    environment
        .get("COMPOSE_PROFILES")
        .map(|list| {
            list.split(',')
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// Removes the services whose profiles are all inactive; an active service
/// that depends on one of them is an error.
fn apply_profiles(model: &mut Node, active: &[String]) -> Result<(), LoadError> {
    let Some(services) = model
        .as_map_mut()
        .and_then(|m| m.get_mut("services"))
        .and_then(Node::as_map_mut)
    else {
        return Ok(());
    };
    let enabled = |service: &Node| match service.get("profiles").and_then(Node::as_seq) {
        None => true,
        Some(profiles) => profiles
            .iter()
            .filter_map(Node::scalar_text)
            .any(|p| active.iter().any(|a| a == "*" || *a == p)),
    };
    let disabled: BTreeSet<String> = services
        .entries
        .iter()
        .filter(|(_, s)| !enabled(s))
        .map(|(k, _)| k.name.clone())
        .collect();
    for (name, service) in &services.entries {
        if disabled.contains(&name.name) {
            continue;
        }
        let depends: Vec<(String, Origin)> = match service.get("depends_on").map(|d| &d.value) {
            Some(Value::Seq(items)) => items
                .iter()
                .filter_map(|i| i.scalar_text().map(|t| (t, i.origin.clone())))
                .collect(),
            Some(Value::Map(map)) => map
                .entries
                .iter()
                .map(|(k, _)| (k.name.clone(), k.origin.clone()))
                .collect(),
            _ => Vec::new(),
        };
        for (dependency, origin) in depends {
            if disabled.contains(&dependency) {
                return Err(LoadError::at(
                    origin,
                    Some(
                        &ModelPath::root()
                            .key("services")
                            .key(&name.name)
                            .key("depends_on"),
                    ),
                    format!(
                        "service {:?} depends on {dependency:?}, which is not enabled: activate its profile with --profile or COMPOSE_PROFILES",
                        name.name
                    ),
                ));
            }
        }
    }
    services
        .entries
        .retain(|(k, _)| !disabled.contains(&k.name));
    Ok(())
}

/// `-p`, `COMPOSE_PROJECT_NAME`, `name:`, or the directory's name made
/// into a valid project name.
fn project_name(
    options: &LoadOptions,
    environment: &BTreeMap<String, String>,
    model: &Node,
    directory: &Path,
) -> Result<String, LoadError> {
    let given = options
        .project_name
        .clone()
        .map(|n| (n, "-p"))
        .or_else(|| {
            environment
                .get("COMPOSE_PROJECT_NAME")
                .filter(|n| !n.is_empty())
                .map(|n| (n.clone(), "COMPOSE_PROJECT_NAME"))
        })
        .or_else(|| {
            model
                .get("name")
                .and_then(Node::as_str)
                .map(|n| (n.to_string(), "name:"))
        });
    if let Some((name, from)) = given {
        if valid_name(&name) {
            return Ok(name);
        }
        let origin = model.get("name").filter(|_| from == "name:").map_or_else(
            || Origin::file(Arc::new(directory.to_path_buf())),
            |n| n.origin.clone(),
        );
        return Err(LoadError::at(
            origin,
            None,
            format!(
                "invalid project name {name:?} (from {from}): use only lowercase letters, digits, dashes and underscores, starting with a letter or digit"
            ),
        ));
    }
    let base = directory
        .file_name()
        .map(|n| n.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    let cleaned: String = base
        .chars()
        .filter(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_'))
        .collect();
    let cleaned = cleaned.trim_start_matches(['-', '_']).to_string();
    if cleaned.is_empty() {
        return Err(LoadError::file(
            directory,
            "cannot make a project name from this directory's name: give one with -p or `name:`",
        ));
    }
    Ok(cleaned)
}

/// Docker's rule for project names.
fn valid_name(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_'))
}

/// `base/path` cleaned (or `path` when absolute).
fn clean_join(base: &Path, path: &Path) -> PathBuf {
    host_path(
        &path.to_string_lossy(),
        Base {
            directory: base,
            home: None,
        },
    )
}
