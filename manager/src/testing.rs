//! What the crate's own tests share: a real manager to call.

use std::path::Path;
use std::sync::Arc;

use hoist_api::tls::{self, Credentials};

use crate::manager::{Manager, ManagerSettings};
use crate::secrets::key::DataKey;
use crate::store::objects::Role;

/// A real one-manager cluster in `dir`, leading.
pub async fn leading_manager(dir: &Path) -> Arc<Manager> {
    let root = crate::ca::new_root("c1").unwrap();
    let (key_pem, csr) = tls::new_key_and_request().unwrap();
    let cert_pem = crate::ca::issue(
        &root,
        &csr,
        "n1",
        Role::Manager,
        "c1",
        std::time::Duration::from_secs(3600),
    )
    .unwrap();
    let manager = Manager::start(ManagerSettings {
        dir: dir.to_path_buf(),
        raft_id: 1,
        node_id: "n1".into(),
        addr: "127.0.0.1:1".into(),
        cluster_id: "c1".into(),
        credentials: Credentials {
            ca_pem: root.cert_pem.clone(),
            cert_pem,
            key_pem,
        },
        data_key: DataKey::generate().unwrap(),
    })
    .await
    .unwrap();
    manager.bootstrap().await.unwrap();
    manager
}
