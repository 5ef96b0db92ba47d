//! Logging: `RUST_LOG` filters (default `info` for Enamel, `warn` elsewhere and for the demo); text or JSON
//! on standard error. Log ids, never PHI values.

use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

pub(crate) fn init(format: LogFormat, default: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let result = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
    // Already installed (tests): keep the existing subscriber.
    drop(result);
}
