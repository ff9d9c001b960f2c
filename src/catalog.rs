//! The service catalog: which services incidents can be about, and which one is the default.
//! Built once from `[[services]]`; it reads nothing else and reaches nothing outside.

use crate::config::{ServiceSettings, Settings};

/// A service firewatch knows, with its Kubernetes names resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    /// The name used in `--service` and messages.
    pub name: String,
    /// Kubernetes namespace.
    pub namespace: String,
    /// Deployment name.
    pub deployment: String,
    /// Helm release name.
    pub helm_release: String,
    /// URLs to probe when verifying.
    pub health_urls: Vec<String>,
    /// Roles paged with the severity's roles.
    pub owners: Vec<String>,
}

/// All services, one of them the default.
#[derive(Debug, Clone)]
pub struct Catalog {
    services: Vec<Service>,
    default: usize,
}

impl Catalog {
    /// The catalog of checked settings (which guarantee at least one service and a valid default).
    pub fn new(settings: &Settings) -> Self {
        let services: Vec<Service> = settings.services.iter().map(service).collect();
        let default = settings
            .default_service()
            .and_then(|d| services.iter().position(|s| s.name == d.name))
            .unwrap_or(0);
        Self { services, default }
    }

    /// The service named `name`, or the default one when `name` is `None`.
    ///
    /// # Errors
    /// A message naming the unknown service and listing the known ones.
    pub fn pick(&self, name: Option<&str>) -> Result<&Service, String> {
        let Some(name) = name else {
            return self
                .services
                .get(self.default)
                .ok_or_else(|| "no service is configured".to_owned());
        };
        self.services
            .iter()
            .find(|s| s.name.eq_ignore_ascii_case(name))
            .ok_or_else(|| {
                let known: Vec<&str> = self.services.iter().map(|s| s.name.as_str()).collect();
                format!("unknown service '{name}' (known: {})", known.join(", "))
            })
    }

    /// The service an incident is about, by name.
    pub fn get(&self, name: &str) -> Option<&Service> {
        self.services.iter().find(|s| s.name == name)
    }
}

/// A `[[services]]` entry with its Kubernetes names resolved (the service's name where unset).
fn service(s: &ServiceSettings) -> Service {
    Service {
        name: s.name.clone(),
        namespace: s.namespace.clone(),
        deployment: s.deployment.clone().unwrap_or_else(|| s.name.clone()),
        helm_release: s.helm_release.clone().unwrap_or_else(|| s.name.clone()),
        health_urls: s.health_urls.clone(),
        owners: s.owners.clone(),
    }
}
