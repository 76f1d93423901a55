//! Docker Compose's progress lines: ` Container demo-web-1  Started`, one
//! per change of state, on standard error.

/// What a progress line is about.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    /// A network.
    Network,
    /// A volume.
    Volume,
    /// A container.
    Container,
    /// A service (its image build).
    Service,
    /// An image.
    Image,
}

/// Prints ` Kind name  status`.
pub fn event(kind: Kind, name: &str, status: &str) {
    let kind = match kind {
        Kind::Network => "Network",
        Kind::Volume => "Volume",
        Kind::Container => "Container",
        Kind::Service => "Service",
        Kind::Image => "Image",
    };
    eprintln!(" {kind} {name}  {status}");
}
