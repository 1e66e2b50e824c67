//! What a conversation test or a replay runs against: the embedded simulator, the
//! stand-in origins, and the real host with the plugins under their grants, its own
//! key-value store (under a folder of its own), clock and log tap.
//!
//! Invariants: nothing a plugin asks for leaves the machine (every non-loopback
//! origin goes to the stand-in server); the simulator's model is every plugin's to
//! reach, as in `host dev`; a rig shares nothing with another but the engine.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;
use sim::Sim;

use super::origins::{Server, StandIn};
use crate::clock::Clock;
use crate::config::{Credentials, Endpoints};
use crate::egress::Egress;
use crate::kv::embedded::Embedded;
use crate::runtime::Engine;
use crate::runtime::capability::log::Tap;
use crate::secrets::Secrets;
use crate::settings::ConfigFile;
use crate::{Host, RunningHost};

/// Lines a rig keeps of what its plugins logged.
const MAX_LOG_LINES: usize = 1000;

/// A running simulator, stand-in origins and host.
pub(crate) struct Rig {
    pub sim: Sim,
    pub origins: Server,
    pub kv: Arc<Embedded>,
    pub clock: Clock,
    pub logged: Arc<Tap>,
    host: RunningHost,
}

/// What a rig runs.
pub(crate) struct Setup<'a> {
    /// The plugins, the one tested first.
    pub plugins: &'a [PathBuf],
    /// The config file whose grants, limits and secrets apply.
    pub config: Option<&'a Path>,
    /// What the stand-in origins answer.
    pub origins: Vec<StandIn>,
    /// The simulator's model, scripted turn by turn (empty: its default answers).
    pub model: Vec<sim::ModelTurn>,
}

impl Rig {
    /// Start everything, with the store under `dir`.
    pub(crate) async fn start(
        setup: Setup<'_>,
        engine: &Engine,
        dir: &Path,
    ) -> anyhow::Result<Rig> {
        let file = match setup.config {
            Some(p) => ConfigFile::load(p)?,
            None => ConfigFile::default(),
        };
        let sim = Sim::builder()
            .start()
            .await
            .context("cannot start the simulator")?;
        let origins = Server::start(setup.origins)
            .await
            .context("cannot start the stand-in origins")?;
        let (configs, secrets) = crate::cli::simulated::settings(
            &sim,
            setup.plugins,
            file.plugin_configs()?,
            Secrets::load(&file.secrets)?,
        )?;
        if !setup.model.is_empty() {
            sim.script_model(setup.model);
        }
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let clock = Clock::adjustable();
        let logged = Arc::new(Tap::new(MAX_LOG_LINES));
        let kv = Arc::new(
            Embedded::open_with_clock(&dir.join("kv.redb"), clock.clone())
                .map_err(anyhow::Error::msg)?,
        );
        let host = Host::builder()
            .credentials(Credentials::new(sim.client_id(), sim.client_secret()))
            .endpoints(Endpoints {
                openapi: sim.url(),
                oapi: sim.url(),
            })
            .engine(engine.clone())
            .plugins(setup.plugins)
            .plugin_configs(configs)
            .runtime_config(file.runtime_config()?)
            .egress(Egress::new(secrets).with_stand_in(origins.addr()))
            .kv(kv.clone())
            .clock(clock.clone())
            .log_tap(logged.clone())
            .build()
            .await?
            .start()
            .await?;
        Ok(Rig {
            sim,
            origins,
            kv,
            clock,
            logged,
            host,
        })
    }

    /// The app the host serves (its key-value namespace).
    pub(crate) fn app(&self) -> &str {
        self.host.app()
    }

    /// Stop the host, then the simulator.
    pub(crate) async fn stop(self) {
        self.host.shutdown().await;
        self.sim.shutdown().await;
    }
}
