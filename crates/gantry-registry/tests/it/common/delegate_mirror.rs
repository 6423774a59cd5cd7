//! Delegating the mirror's part of the store (issue 15) in test wrappers, as
//! `delegate_hardening_store!` does for the hardening part: a wrapper that changes a few
//! `MetaStore` methods still needs every supertrait.

#[allow(unused_macros)]
/// Implements `MirrorStore` for a wrapper whose `inner: Arc<dyn MetaStore>` does the work.
macro_rules! delegate_mirror_store {
    ($ty:ty) => {
        impl gantry_registry::store::MirrorStore for $ty {
            fn index_generation(
                &self,
            ) -> gantry_registry::store::BoxFut<'_, gantry_registry::store::StoreResult<i64>> {
                self.inner.index_generation()
            }
            fn index_changes_since(
                &self,
                after: i64,
                limit: i64,
            ) -> gantry_registry::store::BoxFut<
                '_,
                gantry_registry::store::StoreResult<Vec<gantry_registry::store::IndexChange>>,
            > {
                self.inner.index_changes_since(after, limit)
            }
            fn prune_index_changes(
                &self,
                before: i64,
            ) -> gantry_registry::store::BoxFut<'_, gantry_registry::store::StoreResult<u64>> {
                self.inner.prune_index_changes(before)
            }
            fn index_change_signal(
                &self,
            ) -> gantry_registry::store::BoxFut<
                '_,
                gantry_registry::store::StoreResult<Option<gantry_registry::store::ChangeSignal>>,
            > {
                self.inner.index_change_signal()
            }
            fn mirror_index<'a>(
                &'a self,
                name: &'a str,
            ) -> gantry_registry::store::BoxFut<
                'a,
                gantry_registry::store::StoreResult<Option<gantry_registry::store::MirrorIndexRow>>,
            > {
                self.inner.mirror_index(name)
            }
            fn put_mirror_index<'a>(
                &'a self,
                row: &'a gantry_registry::store::MirrorIndexRow,
            ) -> gantry_registry::store::BoxFut<'a, gantry_registry::store::StoreResult<()>> {
                self.inner.put_mirror_index(row)
            }
            fn touch_mirror_index<'a>(
                &'a self,
                name: &'a str,
                checked_at: i64,
            ) -> gantry_registry::store::BoxFut<'a, gantry_registry::store::StoreResult<()>> {
                self.inner.touch_mirror_index(name, checked_at)
            }
            fn record_mirrored_crate<'a>(
                &'a self,
                c: &'a gantry_registry::store::MirroredCrate,
            ) -> gantry_registry::store::BoxFut<'a, gantry_registry::store::StoreResult<()>> {
                self.inner.record_mirrored_crate(c)
            }
        }
    };
}
pub(crate) use delegate_mirror_store;
