//! One upstream fetch per missing file however many requests want it at once: the first request
//! starts the work as its own task (so a client that goes away does not cancel it for the others),
//! later ones wait for the same result.

use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::sync::{Arc, Mutex};

use tokio::sync::watch;

pub(super) struct Coalescer<K, V> {
    flights: Arc<Mutex<HashMap<K, watch::Receiver<Option<V>>>>>,
}

impl<K, V> Default for Coalescer<K, V> {
    fn default() -> Self {
        Coalescer {
            flights: Arc::new(Mutex::new(HashMap::new())),
        }
    }
}

/// Removes the flight when its task ends, also if it panicked.
struct Landing<K: Hash + Eq, V> {
    flights: Arc<Mutex<HashMap<K, watch::Receiver<Option<V>>>>>,
    key: K,
}

impl<K: Hash + Eq, V> Drop for Landing<K, V> {
    fn drop(&mut self) {
        let mut map = self.flights.lock().unwrap_or_else(|p| p.into_inner());
        map.remove(&self.key);
    }
}

impl<K, V> Coalescer<K, V>
where
    K: Hash + Eq + Clone + Send + 'static,
    V: Clone + Send + Sync + 'static,
{
    /// The result of the flight for `key`: joins the one in progress (calling `on_join` at once),
    /// or starts `work` (spawned). Returns `None` only if the work panicked.
    pub(super) async fn run<F, Fut>(&self, key: K, work: F, on_join: impl FnOnce()) -> Option<V>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = V> + Send + 'static,
    {
        let (mut rx, joined) = {
            let mut map = self.flights.lock().unwrap_or_else(|p| p.into_inner());
            match map.get(&key) {
                Some(rx) => (rx.clone(), true),
                None => {
                    let (tx, rx) = watch::channel(None);
                    map.insert(key.clone(), rx.clone());
                    let landing = Landing {
                        flights: self.flights.clone(),
                        key,
                    };
                    let fut = work();
                    tokio::spawn(async move {
                        let v = fut.await;
                        // Publish first: a request arriving before the removal still gets it.
                        let _ = tx.send(Some(v));
                        drop(landing);
                    });
                    (rx, false)
                }
            }
        };
        if joined {
            on_join();
        }
        rx.wait_for(Option::is_some)
            .await
            .ok()
            .and_then(|v| v.clone())
    }

    /// Flights in progress now.
    #[cfg(test)]
    pub(super) fn in_flight(&self) -> usize {
        self.flights.lock().unwrap_or_else(|p| p.into_inner()).len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test]
    async fn concurrent_callers_share_one_run() {
        let c: Arc<Coalescer<&'static str, u32>> = Arc::new(Coalescer::default());
        let runs = Arc::new(AtomicUsize::new(0));
        let joined = Arc::new(AtomicUsize::new(0));
        let (gate_tx, gate_rx) = watch::channel(false);
        let mut joins = Vec::new();
        for _ in 0..5 {
            let (c, runs, mut gate, joined) =
                (c.clone(), runs.clone(), gate_rx.clone(), joined.clone());
            joins.push(tokio::spawn(async move {
                c.run(
                    "k",
                    move || async move {
                        runs.fetch_add(1, Ordering::SeqCst);
                        let _ = gate.wait_for(|open| *open).await;
                        7
                    },
                    || {
                        joined.fetch_add(1, Ordering::SeqCst);
                    },
                )
                .await
            }));
        }
        // Every caller reaches the flight before it lands.
        while joined.load(Ordering::SeqCst) < 4 {
            tokio::task::yield_now().await;
        }
        gate_tx.send(true).unwrap();
        for j in joins {
            assert_eq!(j.await.unwrap(), Some(7));
        }
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        assert_eq!(c.in_flight(), 0);
        // A later call runs again.
        assert_eq!(c.run("k", || async { 8 }, || {}).await, Some(8));
    }
}
