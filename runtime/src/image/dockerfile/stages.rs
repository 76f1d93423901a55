//! Build stages: grouping instructions under their FROM, the global ARGs
//! before the first FROM, stage lookup, `--target`, and resolving a stage's
//! base (image, earlier stage or scratch).

use std::collections::BTreeMap;

use super::directives::Directives;
use super::error::DockerfileError;
use super::instruction::{ArgDecl, Instruction, Located};
use super::lexer::Lexed;
use super::parse::{Parsed, parse_command};
use super::shell::{Env, expand};

/// A parsed Dockerfile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dockerfile {
    /// The display name given to [`parse`](super::parse), used in errors.
    pub file: String,
    /// The parser directives (escape character, syntax, check).
    pub directives: Directives,
    /// ARGs declared before the first FROM: usable in FROM lines, and
    /// re-imported into a stage by a bare `ARG NAME`. One entry per name,
    /// in order.
    pub global_args: Vec<Located<ArgDecl>>,
    /// The build stages, in file order (at least one).
    pub stages: Vec<Stage>,
}

/// One build stage: a FROM line and the instructions after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stage {
    /// `AS name`, lower-cased as Docker does.
    pub name: Option<String>,
    /// The base as written (it may use global ARGs); see
    /// [`Dockerfile::resolve_base`].
    pub base: String,
    /// `--platform` as written (it may use ARGs such as `$BUILDPLATFORM`).
    pub platform: Option<String>,
    /// The 1-based line of the FROM instruction.
    pub line: usize,
    /// The FROM instruction as written.
    pub text: String,
    /// The stage's instructions in order.
    pub instructions: Vec<Located<Instruction>>,
}

/// What a stage is built on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BaseImage {
    /// `FROM scratch`: an empty filesystem.
    Scratch,
    /// An earlier stage of the same Dockerfile, by index.
    Stage(usize),
    /// An image reference to pull or find locally.
    Image(String),
}

/// Groups raw instructions into stages.
pub(crate) fn assemble(file: &str, lexed: Lexed) -> Result<Dockerfile, DockerfileError> {
    if lexed.instructions.is_empty() {
        return Err(DockerfileError::new(
            file,
            None,
            None,
            "file with no instructions",
        ));
    }
    let escape = lexed.directives.escape;
    let mut global_args = Vec::new();
    let mut stages: Vec<Stage> = Vec::new();
    for raw in lexed.instructions {
        let at = |instruction: Option<&str>, message: String| {
            DockerfileError::new(file, Some(raw.line), instruction, message)
        };
        let parsed = parse_command(&raw.command, &raw.original, &raw.heredocs, escape)
            .map_err(|e| at(e.instruction.as_deref(), e.message))?;
        match parsed {
            Parsed::From(from) => {
                let earlier = from
                    .name
                    .as_ref()
                    .and_then(|name| stages.iter().find(|s| s.name.as_ref() == Some(name)));
                if let (Some(name), Some(earlier)) = (&from.name, earlier) {
                    return Err(at(
                        Some("FROM"),
                        format!(
                            "duplicate stage name {name:?} (already used on line {}); give each \
                             stage its own name",
                            earlier.line
                        ),
                    ));
                }
                stages.push(Stage {
                    name: from.name,
                    base: from.base,
                    platform: from.platform,
                    line: raw.line,
                    text: raw.original,
                    instructions: Vec::new(),
                });
            }
            Parsed::Instruction(instruction) => match (stages.last_mut(), instruction) {
                (Some(stage), instruction) => stage.instructions.push(Located {
                    line: raw.line,
                    text: raw.original,
                    value: instruction,
                }),
                (None, Instruction::Arg(decls)) => {
                    global_args.extend(decls.into_iter().map(|value| Located {
                        line: raw.line,
                        text: raw.original.clone(),
                        value,
                    }))
                }
                (None, other) => {
                    return Err(at(
                        Some(other.keyword()),
                        "no build stage in current context: only ARG may come before the \
                         first FROM; start a stage with FROM <image> first"
                            .to_string(),
                    ));
                }
            },
        }
    }
    if stages.is_empty() {
        return Err(DockerfileError::new(
            file,
            None,
            None,
            "no build stage: the file has only ARG instructions; add a FROM <image> line",
        ));
    }
    Ok(Dockerfile {
        file: file.to_string(),
        directives: lexed.directives,
        global_args,
        stages,
    })
}

impl Dockerfile {
    /// An error located at `line` and `instruction` of this Dockerfile, for
    /// the builder's own failures (`Dockerfile:7: COPY: no such file`).
    pub fn error(
        &self,
        line: usize,
        instruction: &str,
        message: impl Into<String>,
    ) -> DockerfileError {
        DockerfileError::new(&self.file, Some(line), Some(instruction), message)
    }

    /// [`Instruction::expand`] with this file's escape character, errors
    /// located at the instruction.
    pub fn expand(
        &self,
        at: &Located<Instruction>,
        env: Env<'_>,
    ) -> Result<Instruction, DockerfileError> {
        at.value
            .expand(env, self.directives.escape)
            .map_err(|message| self.error(at.line, at.value.keyword(), message))
    }

    /// The index of the stage named `name_or_index` (names compare
    /// ignoring case) or with that index, as `COPY --from` and `--target`
    /// refer to stages.
    pub fn stage_index(&self, name_or_index: &str) -> Option<usize> {
        let lower = name_or_index.to_lowercase();
        self.stages
            .iter()
            .position(|s| s.name.as_deref() == Some(lower.as_str()))
            .or_else(|| {
                name_or_index
                    .parse::<usize>()
                    .ok()
                    .filter(|&i| i < self.stages.len())
            })
    }

    /// The stage named `name_or_index` or with that index.
    pub fn stage(&self, name_or_index: &str) -> Option<&Stage> {
        self.stage_index(name_or_index).map(|i| &self.stages[i])
    }

    /// The index of the last stage to build: the one named by `--target`,
    /// or the final stage when there is no target.
    pub fn target(&self, target: Option<&str>) -> Result<usize, DockerfileError> {
        let Some(target) = target else {
            return self.stages.len().checked_sub(1).ok_or_else(|| {
                DockerfileError::new(
                    &self.file,
                    None,
                    None,
                    "no build stage: add a FROM <image> line",
                )
            });
        };
        let lower = target.to_lowercase();
        if let Some(i) = self
            .stages
            .iter()
            .position(|s| s.name.as_deref() == Some(lower.as_str()))
        {
            return Ok(i);
        }
        let names: Vec<&str> = self
            .stages
            .iter()
            .filter_map(|s| s.name.as_deref())
            .collect();
        let known = if names.is_empty() {
            "this Dockerfile has no named stages (name one with FROM <image> AS <name>)".to_string()
        } else {
            format!("expected one of: {}", names.join(", "))
        };
        Err(DockerfileError::new(
            &self.file,
            None,
            None,
            format!("target stage {target:?} could not be found; {known}"),
        ))
    }

    /// The values of the global ARGs: start from `predefined` (such as
    /// `TARGETPLATFORM` and `BUILDPLATFORM`), then take each global ARG in
    /// order, a `--build-arg` winning over its default, defaults expanded
    /// against the values so far. An ARG with neither stays unset.
    pub fn global_arg_values(
        &self,
        predefined: BTreeMap<String, String>,
        build_args: &BTreeMap<String, String>,
    ) -> Result<BTreeMap<String, String>, DockerfileError> {
        let mut values = predefined;
        let none = BTreeMap::new();
        for arg in &self.global_args {
            let lookup = |name: &str| values.get(name).cloned();
            let value = arg
                .value
                .resolve(build_args, &none, &lookup, self.directives.escape)
                .map_err(|message| self.error(arg.line, "ARG", message))?;
            match value {
                Some(value) => values.insert(arg.value.name.clone(), value),
                None => values.remove(&arg.value.name),
            };
        }
        Ok(values)
    }

    /// What stage `index` is built on: its FROM base expanded with the
    /// global ARG values (see [`global_arg_values`](Self::global_arg_values)),
    /// then `scratch`, an earlier stage's name, or an image reference.
    pub fn resolve_base(
        &self,
        index: usize,
        globals: &BTreeMap<String, String>,
    ) -> Result<BaseImage, DockerfileError> {
        let Some(stage) = self.stages.get(index) else {
            return Err(DockerfileError::new(
                &self.file,
                None,
                None,
                format!(
                    "there is no stage {index}; the file has {} stages",
                    self.stages.len()
                ),
            ));
        };
        let fail = |message: String| self.error(stage.line, "FROM", message);
        let lookup = |name: &str| globals.get(name).cloned();
        let base = expand(&stage.base, &lookup, self.directives.escape).map_err(fail)?;
        if base.is_empty() {
            return Err(fail(format!(
                "base name ({}) should not be blank; declare the ARG before the first FROM with a \
                 default, or pass --build-arg",
                stage.base
            )));
        }
        if base == "scratch" {
            return Ok(BaseImage::Scratch);
        }
        let lower = base.to_lowercase();
        Ok(self.stages[..index]
            .iter()
            .position(|s| s.name.as_deref() == Some(lower.as_str()))
            .map_or(BaseImage::Image(base), BaseImage::Stage))
    }
}
