//! Registry commands: pull, push, login, logout. Credentials are looked up here,
//! in the user's files, and sent with the request (as Docker's
//! X-Registry-Auth), so the daemon never reads anyone's home directory.

use std::io::{BufRead, IsTerminal, Write};
use std::os::fd::AsFd;

use clap::Args;
use hoist_api::proto::images_client::ImagesClient;
use hoist_api::proto::{
    ListImagesRequest, ListTagsRequest, LoginRequest, PullRequest, PushRequest, RegistryAuth,
};
use hoist_runtime::image::Reference;
use hoist_runtime::image::reference::DEFAULT_DOMAIN;
use hoist_runtime::image::registry::credentials::{self, Credentials};
use nix::sys::termios::{self, LocalFlags, SetArg};
use tonic::transport::Channel;

use crate::exit::{CliError, CliResult};
use crate::progress::follow;

/// Download an image from a registry
#[derive(Debug, Args)]
pub struct PullArgs {
    /// Suppress verbose output
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Set platform if server is multi-platform capable
    #[arg(long)]
    pub platform: Option<String>,
    /// Download all tagged images in the repository
    #[arg(short = 'a', long)]
    pub all_tags: bool,
    /// NAME[:TAG|@DIGEST]
    pub name: String,
}

/// The credentials the user has for the registry `domain`.
pub fn auth_for(domain: &str) -> Option<RegistryAuth> {
    credentials::lookup(&credentials::default_files(), domain).map(|c| RegistryAuth {
        username: c.username,
        password: c.password,
        identity_token: c.identity_token,
    })
}

/// The credentials the user has for the registry of `image`, as a
/// service keeps them (`--with-registry-auth`), with a warning when there
/// are none. An unreadable reference has none: the manager refuses it
/// with a better message.
pub fn pull_credentials_for(image: &str) -> Option<RegistryAuth> {
    let reference = Reference::parse(image).ok()?;
    let found = auth_for(&reference.domain);
    if found.is_none() {
        eprintln!(
            "Warning: no credentials for {domain} (hoist login {domain}): its nodes pull {image} anonymously",
            domain = reference.domain
        );
    }
    found
}

/// `hoist pull`.
pub async fn pull(channel: Channel, args: PullArgs) -> CliResult<i32> {
    if args.all_tags {
        let repository = repository_of(&args.name)?;
        let tags = ImagesClient::new(channel.clone())
            .list_tags(ListTagsRequest {
                reference: repository.to_string(),
                auth: auth_for(&repository.domain),
            })
            .await?
            .into_inner()
            .tags;
        if tags.is_empty() {
            return Err(CliError::client(format!(
                "{} has no tags in its registry",
                repository.familiar_repository()
            )));
        }
        for tag in &tags {
            let tagged = repository.with_tag(tag).to_string();
            fetch_image(
                channel.clone(),
                &tagged,
                args.platform.as_deref(),
                args.quiet,
                false,
            )
            .await?;
        }
        println!("{}", repository.repository());
        return Ok(0);
    }
    pull_image(
        channel,
        &args.name,
        args.platform.as_deref(),
        args.quiet,
        false,
    )
    .await?;
    Ok(0)
}

/// Pulls `name`, showing progress on stdout (or stderr when `to_stderr`,
/// as `run` does), then prints the full reference as Docker does.
pub async fn pull_image(
    channel: Channel,
    name: &str,
    platform: Option<&str>,
    quiet: bool,
    to_stderr: bool,
) -> CliResult {
    let reference = fetch_image(channel, name, platform, quiet, to_stderr).await?;
    if to_stderr {
        eprintln!("{reference}");
    } else {
        println!("{reference}");
    }
    Ok(())
}

/// Pulls `name` with its progress shown (unless `quiet`), and nothing
/// else printed; returns the full reference.
pub async fn fetch_image(
    channel: Channel,
    name: &str,
    platform: Option<&str>,
    quiet: bool,
    to_stderr: bool,
) -> CliResult<Reference> {
    let reference = Reference::parse(name).map_err(|e| CliError::usage(e.to_string()))?;
    let request = PullRequest {
        reference: reference.to_string(),
        platform: platform.unwrap_or_default().to_string(),
        auth: auth_for(&reference.domain),
    };
    let stream = ImagesClient::new(channel).pull(request).await?.into_inner();
    follow(stream, quiet, to_stderr).await?;
    Ok(reference)
}

/// Upload an image to a registry
#[derive(Debug, Args)]
pub struct PushArgs {
    /// Suppress verbose output
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Push all tags of an image to the repository
    #[arg(short = 'a', long)]
    pub all_tags: bool,
    /// NAME[:TAG]
    pub name: String,
}

/// `NAME` for `--all-tags`, which takes a repository, not one image.
fn repository_of(name: &str) -> CliResult<Reference> {
    let last = name.rsplit('/').next().unwrap_or(name);
    if name.contains('@') || last.contains(':') {
        return Err(CliError::client(format!(
            "tag can't be used with --all-tags/-a: give the repository alone, not {name}"
        )));
    }
    Reference::parse(name).map_err(|e| CliError::usage(e.to_string()))
}

/// `hoist push`.
pub async fn push(channel: Channel, args: PushArgs) -> CliResult<i32> {
    if args.all_tags {
        let repository = repository_of(&args.name)?;
        let images = ImagesClient::new(channel.clone())
            .list(ListImagesRequest {
                all: false,
                filters: Vec::new(),
                reference: repository.repository(),
            })
            .await?
            .into_inner()
            .images;
        // The daemon lists only this repository's names.
        let mut tags: Vec<Reference> = images
            .iter()
            .flat_map(|image| &image.repo_tags)
            .filter_map(|tag| Reference::parse(tag).ok())
            .collect();
        tags.sort();
        tags.dedup();
        if tags.is_empty() {
            return Err(CliError::client(format!(
                "An image does not exist locally with the tag: {}",
                repository.familiar_repository()
            )));
        }
        for tag in &tags {
            push_image(channel.clone(), &tag.to_string(), args.quiet, false).await?;
            if args.quiet {
                println!("{}", tag.familiar());
            }
        }
        return Ok(0);
    }
    let reference = push_image(channel, &args.name, args.quiet, false).await?;
    if args.quiet {
        println!("{}", reference.familiar());
    }
    Ok(0)
}

/// Pushes `name`, showing progress (unless `quiet`) on stdout, or stderr
/// when `to_stderr`. Returns the reference pushed.
pub async fn push_image(
    channel: Channel,
    name: &str,
    quiet: bool,
    to_stderr: bool,
) -> CliResult<Reference> {
    let reference = Reference::parse(name).map_err(|e| CliError::usage(e.to_string()))?;
    let request = PushRequest {
        reference: reference.to_string(),
        auth: auth_for(&reference.domain),
    };
    let stream = ImagesClient::new(channel).push(request).await?.into_inner();
    follow(stream, quiet, to_stderr).await?;
    Ok(reference)
}

/// Log in to a registry
#[derive(Debug, Args)]
pub struct LoginArgs {
    /// Username
    #[arg(short = 'u', long)]
    pub username: Option<String>,
    /// Password
    #[arg(short = 'p', long)]
    pub password: Option<String>,
    /// Take the password from stdin
    #[arg(long = "password-stdin")]
    pub password_stdin: bool,
    /// Registry host[:port] (default: Docker Hub)
    pub server: Option<String>,
}

/// The registry a `login`/`logout` argument names.
fn server_domain(server: Option<&str>) -> String {
    server
        .map(credentials::normalise_key)
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| DEFAULT_DOMAIN.to_string())
}

/// Reads one line from the terminal, without echo when `secret`.
fn prompt(label: &str, secret: bool) -> CliResult<String> {
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        return Err(CliError::usage(format!(
            "cannot prompt for the {} without a terminal: give it with {}",
            label.to_lowercase(),
            if secret { "--password-stdin" } else { "-u" }
        )));
    }
    eprint!("{label}: ");
    let _ = std::io::stderr().flush();
    let saved = if secret {
        let saved = termios::tcgetattr(stdin.as_fd()).ok();
        if let Some(saved) = &saved {
            let mut quiet = saved.clone();
            quiet.local_flags.remove(LocalFlags::ECHO);
            let _ = termios::tcsetattr(stdin.as_fd(), SetArg::TCSANOW, &quiet);
        }
        saved
    } else {
        None
    };
    let mut line = String::new();
    let read = stdin.lock().read_line(&mut line);
    if let Some(saved) = saved {
        let _ = termios::tcsetattr(stdin.as_fd(), SetArg::TCSANOW, &saved);
        eprintln!();
    }
    read?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

/// `hoist login`: checks the credentials through the daemon, then stores
/// them in hoist's credential file.
pub async fn login(channel: Channel, args: LoginArgs) -> CliResult<i32> {
    let domain = server_domain(args.server.as_deref());
    if args.password.is_some() && args.password_stdin {
        return Err(CliError::usage(
            "--password and --password-stdin are mutually exclusive",
        ));
    }
    let username = match args.username {
        Some(user) => user,
        None => prompt("Username", false)?,
    };
    let password = if args.password_stdin {
        if username.is_empty() {
            return Err(CliError::usage("--password-stdin needs a username (-u)"));
        }
        let mut password = String::new();
        std::io::stdin().lock().read_line(&mut password)?;
        password.trim_end_matches(['\r', '\n']).to_string()
    } else if let Some(password) = args.password {
        eprintln!("WARNING! Using --password via the CLI is insecure. Use --password-stdin.");
        password
    } else {
        prompt("Password", true)?
    };
    if username.is_empty() || password.is_empty() {
        return Err(CliError::usage("login needs a username and a password"));
    }
    ImagesClient::new(channel)
        .login(LoginRequest {
            server: domain.clone(),
            auth: Some(RegistryAuth {
                username: username.clone(),
                password: password.clone(),
                identity_token: String::new(),
            }),
        })
        .await?;
    let file = credentials::hoist_file();
    credentials::store(
        &file,
        &domain,
        &Credentials {
            username,
            password,
            identity_token: String::new(),
        },
    )
    .map_err(|e| {
        CliError::client(format!(
            "cannot save credentials in {}: {e}",
            file.display()
        ))
    })?;
    println!("Login Succeeded");
    Ok(0)
}

/// Log out from a registry
#[derive(Debug, Args)]
pub struct LogoutArgs {
    /// Registry host[:port] (default: Docker Hub)
    pub server: Option<String>,
}

/// `hoist logout`: forgets hoist's stored credentials for a registry.
pub fn logout(args: LogoutArgs) -> CliResult<i32> {
    let domain = server_domain(args.server.as_deref());
    let file = credentials::hoist_file();
    let removed = credentials::erase(&file, &domain)
        .map_err(|e| CliError::client(format!("cannot update {}: {e}", file.display())))?;
    if removed {
        println!("Removing login credentials for {domain}");
    } else {
        println!("Not logged in to {domain}");
    }
    if credentials::lookup(&credentials::default_files(), &domain).is_some() {
        eprintln!(
            "WARNING! Credentials for {domain} remain in your Docker configuration (~/.docker/config.json) and hoist still uses them; remove them there to log out completely."
        );
    }
    Ok(0)
}
