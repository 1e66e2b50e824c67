//! Plugins distributed through OCI registries, in the CNCF Wasm OCI artifact layout
//! (`artifact.rs`), pushed and pulled with `oci-client` (`registry.rs`), and recorded
//! by digest in a lock file beside the config (`lock.rs`) so a moved tag changes
//! nothing until the operator pulls with `--update`.

pub mod artifact;
pub mod lock;
pub mod registry;

pub use artifact::{OciRef, WasmConfig};
pub use lock::{Lock, Locked};
pub use registry::{Pulled, Registries, RegistrySettings};
