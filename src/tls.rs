//! The system's root certificates, loaded once per process and shared by every https client
//! (the Slack Web API client and the HTTP prober): reading and parsing them costs a few
//! milliseconds and a few hundred KiB each time.

use std::sync::OnceLock;

use hyper_rustls::ConfigBuilderExt;

/// A TLS client configuration that trusts the system's root certificates. The first call loads
/// them; later calls share that store (a clone shares the roots, it does not copy them).
///
/// # Errors
/// No usable root certificate was found (the same error on every call).
pub fn native_roots() -> std::io::Result<rustls::ClientConfig> {
    static CONFIG: OnceLock<Result<rustls::ClientConfig, (std::io::ErrorKind, String)>> =
        OnceLock::new();
    CONFIG
        .get_or_init(|| {
            rustls::ClientConfig::builder()
                .with_native_roots()
                .map(|roots| roots.with_no_client_auth())
                .map_err(|e| (e.kind(), e.to_string()))
        })
        .clone()
        .map_err(|(kind, reason)| std::io::Error::new(kind, reason))
}
