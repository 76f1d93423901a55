//! `hoist manifest inspect`: what an image reference names in its
//! registry, printed as Docker prints it, without pulling anything. CI
//! scripts use it to ask whether a tag exists.

use base64::Engine;
use clap::{Args, Subcommand};
use hoist_api::proto::images_client::ImagesClient;
use hoist_api::proto::{InspectManifestRequest, RemoteManifest};
use hoist_runtime::image::Reference;
use tonic::transport::Channel;

use super::registry::auth_for;
use crate::exit::{CliError, CliResult};

/// Manage image manifests in registries
#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum ManifestCommand {
    /// Display an image manifest, or manifest list, from a registry
    Inspect(InspectArgs),
}

/// Display an image manifest, or manifest list, from a registry
#[derive(Debug, Args)]
pub struct InspectArgs {
    /// Allow communication with an insecure registry
    #[arg(long)]
    pub insecure: bool,
    /// Output additional info including layers and platform
    #[arg(short = 'v', long)]
    pub verbose: bool,
    /// The image (NAME[:TAG|@DIGEST])
    pub image: String,
}

/// What `image` names in its registry (then, with `platforms`, each
/// platform's manifest of an index), with the full reference; the
/// daemon fetches it with the user's credentials for that registry.
pub async fn fetch_remote(
    channel: Channel,
    image: &str,
    platforms: bool,
    insecure: bool,
) -> CliResult<(Reference, Vec<RemoteManifest>)> {
    let reference = Reference::parse(image).map_err(|e| CliError::client(e.to_string()))?;
    let response = ImagesClient::new(channel)
        .inspect_manifest(InspectManifestRequest {
            reference: image.to_string(),
            auth: auth_for(&reference.domain),
            platforms,
            insecure,
        })
        .await?
        .into_inner();
    if response.manifests.is_empty() {
        return Err(CliError::client(format!(
            "no such manifest: {}",
            response.reference
        )));
    }
    Ok((reference, response.manifests))
}

/// Runs a `hoist manifest` command.
pub async fn run(channel: Channel, command: ManifestCommand) -> CliResult<i32> {
    let ManifestCommand::Inspect(args) = command;
    let (reference, manifests) =
        fetch_remote(channel, &args.image, args.verbose, args.insecure).await?;
    let Some((named, platforms)) = manifests.split_first() else {
        return Ok(0);
    };
    let text = if !args.verbose {
        String::from_utf8_lossy(&named.raw).into_owned()
    } else if platforms.is_empty() {
        verbose(&reference.to_string(), named)
    } else {
        let entries: Vec<String> = platforms
            .iter()
            .map(|m| verbose(&format!("{}@{}", name_of(&reference), m.digest), m))
            .collect();
        format!("[{}]", entries.join(","))
    };
    println!("{}", indent_json(&text)?);
    Ok(0)
}

/// `docker.io/library/busybox`: the reference without tag or digest.
pub fn name_of(reference: &Reference) -> String {
    Reference {
        tag: None,
        digest: None,
        ..reference.clone()
    }
    .to_string()
}

/// Docker's verbose document for one image manifest: its reference, its
/// descriptor (with the platform an index gave it), its bytes and the
/// manifest itself under the field its kind calls for.
fn verbose(reference: &str, manifest: &RemoteManifest) -> String {
    let platform = if manifest.platform_json.is_empty() {
        String::new()
    } else {
        format!(
            ",\"platform\":{}",
            String::from_utf8_lossy(&manifest.platform_json)
        )
    };
    let field = if manifest.media_type.contains("vnd.docker.") {
        "SchemaV2Manifest"
    } else {
        "OCIManifest"
    };
    format!(
        "{{\"Ref\":{},\"Descriptor\":{{\"mediaType\":{},\"digest\":{},\"size\":{}{platform}}},\"Raw\":{},\"{field}\":{}}}",
        serde_json::Value::from(reference),
        serde_json::Value::from(manifest.media_type.as_str()),
        serde_json::Value::from(manifest.digest.as_str()),
        manifest.raw.len(),
        serde_json::Value::from(base64::engine::general_purpose::STANDARD.encode(&manifest.raw)),
        String::from_utf8_lossy(&manifest.raw),
    )
}

/// JSON text indented with tabs as Go's `json.Indent` does it, keys in the
/// order the text has them (a registry's manifest is shown as it is, not
/// re-sorted).
fn indent_json(text: &str) -> CliResult<String> {
    serde_json::from_str::<serde::de::IgnoredAny>(text).map_err(|e| {
        CliError::client(format!(
            "the registry sent a manifest that is not JSON: {e}"
        ))
    })?;
    let mut out = String::with_capacity(text.len() * 2);
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    let mut chars = text.chars().peekable();
    let newline = |out: &mut String, depth: usize| {
        out.push('\n');
        out.push_str(&"\t".repeat(depth));
    };
    while let Some(c) = chars.next() {
        if in_string {
            out.push(c);
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match c {
            ' ' | '\t' | '\n' | '\r' => {}
            '"' => {
                in_string = true;
                out.push(c);
            }
            '{' | '[' => {
                out.push(c);
                while chars.peek().is_some_and(|n| n.is_ascii_whitespace()) {
                    chars.next();
                }
                if matches!(chars.peek(), Some('}' | ']')) {
                    out.extend(chars.next());
                } else {
                    depth += 1;
                    newline(&mut out, depth);
                }
            }
            '}' | ']' => {
                depth = depth.saturating_sub(1);
                newline(&mut out, depth);
                out.push(c);
            }
            ',' => {
                out.push(c);
                newline(&mut out, depth);
            }
            ':' => out.push_str(": "),
            other => out.push(other),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_is_indented_as_go_does_it_keeping_key_order() {
        let text = r#"{"schemaVersion":2,"mediaType":"x","config":{},"layers":[{"b":1,"a":"s, {\"q\":[]}"}],"empty":[]}"#;
        let expected = "{\n\t\"schemaVersion\": 2,\n\t\"mediaType\": \"x\",\n\t\"config\": {},\n\t\"layers\": [\n\t\t{\n\t\t\t\"b\": 1,\n\t\t\t\"a\": \"s, {\\\"q\\\":[]}\"\n\t\t}\n\t],\n\t\"empty\": []\n}";
        assert_eq!(indent_json(text).unwrap(), expected);
        assert_eq!(indent_json(" { } ").unwrap(), "{}");
        assert!(indent_json("{\"a\":").is_err());
    }
}
