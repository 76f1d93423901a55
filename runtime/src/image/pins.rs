//! Pins: blobs and layers a job (a pull, a build step, push compression) has
//! stored but not yet recorded in the index, kept from garbage collection
//! until the job drops its pin. Without them an `rmi` or `image prune`
//! running meanwhile would take them (they are not live yet).

use std::collections::HashMap;
use std::sync::Mutex;

use super::store::ImageStore;

/// Digests (`sha256:…`, blobs or layer chain IDs) pinned, with counts.
#[derive(Debug, Default)]
pub(crate) struct PinSet {
    counts: Mutex<HashMap<String, usize>>,
}

impl PinSet {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, usize>> {
        self.counts
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Every pinned digest.
    pub(crate) fn snapshot(&self) -> Vec<String> {
        self.lock().keys().cloned().collect()
    }
}

/// A job's pins; dropping it unpins.
#[derive(Debug)]
pub struct Pinned<'a> {
    store: &'a ImageStore,
    keys: Vec<String>,
}

impl Pinned<'_> {
    /// Pins more digests for the same job.
    pub fn add(&mut self, keys: impl IntoIterator<Item = String>) {
        let mut counts = self.store.pins.lock();
        for key in keys {
            *counts.entry(key.clone()).or_default() += 1;
            self.keys.push(key);
        }
    }
}

impl Drop for Pinned<'_> {
    fn drop(&mut self) {
        let mut counts = self.store.pins.lock();
        for key in &self.keys {
            if let Some(count) = counts.get_mut(key) {
                *count -= 1;
                if *count == 0 {
                    counts.remove(key);
                }
            }
        }
    }
}

impl ImageStore {
    /// Pins `keys` (blob digests, layer chain IDs) until the result drops.
    pub fn pin(&self, keys: impl IntoIterator<Item = String>) -> Pinned<'_> {
        let mut pinned = Pinned {
            store: self,
            keys: Vec::new(),
        };
        pinned.add(keys);
        pinned
    }
}

#[cfg(test)]
mod tests {
    use crate::image::store::tests::store_with_image;

    #[test]
    fn pinned_blobs_survive_a_collection_until_unpinned() {
        let (_dir, store, _) = store_with_image(&[("a", b"1")], "box:1");
        let stray = store.put_bytes(b"not recorded yet").unwrap();
        let collect = || {
            let index = store.lock();
            store.collect_garbage(&index).unwrap();
        };
        let pinned = store.pin([stray.digest.clone()]);
        let twice = store.pin([stray.digest.clone()]);
        collect();
        assert!(store.has_blob(&stray.digest), "a pinned blob was collected");
        drop(pinned);
        collect();
        assert!(store.has_blob(&stray.digest), "it is still pinned once");
        drop(twice);
        collect();
        assert!(
            !store.has_blob(&stray.digest),
            "an unpinned stray blob stayed"
        );
        assert!(store.resolve("box:1").is_ok());
    }
}
