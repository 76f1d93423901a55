//! Errors the API returns: a tonic status whose code tells the CLI which
//! exit code to use, and whose message names the object that was wrong.

use tonic::{Code, Status};

/// Shorthand for results of API handlers.
pub type ApiResult<T> = Result<T, Status>;

/// An object (container, image, volume) that does not exist.
pub fn not_found(message: impl Into<String>) -> Status {
    Status::new(Code::NotFound, message.into())
}

/// A request that conflicts with the current state (name in use, container
/// running, image in use).
pub fn conflict(message: impl Into<String>) -> Status {
    Status::new(Code::FailedPrecondition, message.into())
}

/// A malformed request (bad flag value, bad reference).
pub fn invalid(message: impl Into<String>) -> Status {
    Status::new(Code::InvalidArgument, message.into())
}

/// A `--filter` the daemon cannot apply: the caller's mistake.
pub fn from_filter(e: hoist_api::filters::FilterError) -> Status {
    invalid(e.to_string())
}

/// Something failed on the daemon's side.
pub fn internal(message: impl Into<String>) -> Status {
    Status::new(Code::Internal, message.into())
}

/// Maps image store errors onto statuses.
pub fn from_image(e: hoist_runtime::image::ImageError) -> Status {
    use hoist_runtime::image::ImageError as E;
    match e {
        E::NotFound(_) => not_found(e.to_string()),
        E::Ambiguous(_) | E::Reference(_) | E::Change(_) | E::Archive(_) => invalid(e.to_string()),
        E::InUse { .. } | E::MultipleReferences(_) => conflict(e.to_string()),
        E::Layer(_) | E::Corrupt(_) | E::Io(_) => internal(e.to_string()),
    }
}

/// Maps registry errors onto statuses.
pub fn from_registry(e: hoist_runtime::image::registry::RegistryError) -> Status {
    use hoist_runtime::image::registry::RegistryError as E;
    match e {
        E::Store(e) => from_image(e),
        E::Unreachable { .. } | E::Status { .. } => Status::unavailable(e.to_string()),
        E::Denied { .. } => Status::permission_denied(e.to_string()),
        E::LoginFailed { .. } => Status::unauthenticated(e.to_string()),
        E::NotFound { .. } | E::NoMatchingPlatform { .. } => not_found(e.to_string()),
        E::DigestMismatch { .. } => Status::data_loss(e.to_string()),
        E::Unsupported(_) => Status::unimplemented(e.to_string()),
        E::Invalid { .. } | E::Io(_) => internal(e.to_string()),
    }
}

/// Maps volume store errors onto statuses.
pub fn from_volume(e: hoist_runtime::volume::VolumeError) -> Status {
    use hoist_runtime::volume::VolumeError as E;
    match e {
        E::NotFound(_) => not_found(e.to_string()),
        E::InvalidName(_) | E::UnknownDriver(_) => invalid(e.to_string()),
        E::Io(_) => internal(e.to_string()),
    }
}
