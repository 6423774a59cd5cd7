//! `delegate_feature_stores!(Wrapper, field)`: implements every supertrait of `MetaStore` a feature
//! added (accounts and pages from the web side, trusted publishing) for a test wrapper around a
//! real store by passing every call to `self.field`, so wrappers that change one `MetaStore`
//! method stay short. A new supertrait is added here, once, for every wrapper.

#[allow(unused_macros)]
macro_rules! delegate_feature_stores {
    ($ty:ty, $inner:ident) => {
        impl gantry_registry::store::AccountStore for $ty {
            fn account<'a>(
                &'a self,
                login: &'a str,
            ) -> gantry_registry::BoxFut<
                'a,
                gantry_registry::store::StoreResult<
                    Option<gantry_registry::store::accounts::Account>,
                >,
            > {
                self.$inner.account(login)
            }
            fn set_password<'a>(
                &'a self,
                user_id: i64,
                hash: &'a str,
            ) -> gantry_registry::BoxFut<'a, gantry_registry::store::StoreResult<bool>> {
                self.$inner.set_password(user_id, hash)
            }
            fn set_admin(
                &self,
                user_id: i64,
                admin: bool,
            ) -> gantry_registry::BoxFut<'_, gantry_registry::store::StoreResult<bool>> {
                self.$inner.set_admin(user_id, admin)
            }
            fn oidc_user<'a>(
                &'a self,
                subject: &'a str,
                login: &'a str,
                admin: Option<bool>,
            ) -> gantry_registry::BoxFut<
                'a,
                gantry_registry::store::StoreResult<gantry_registry::store::User>,
            > {
                self.$inner.oidc_user(subject, login, admin)
            }
            fn create_session<'a>(
                &'a self,
                s: &'a gantry_registry::store::accounts::NewSession,
            ) -> gantry_registry::BoxFut<'a, gantry_registry::store::StoreResult<()>> {
                self.$inner.create_session(s)
            }
            fn session<'a>(
                &'a self,
                id_hash: &'a [u8; 32],
                now: i64,
            ) -> gantry_registry::BoxFut<
                'a,
                gantry_registry::store::StoreResult<
                    Option<gantry_registry::store::accounts::SessionRecord>,
                >,
            > {
                self.$inner.session(id_hash, now)
            }
            fn delete_session<'a>(
                &'a self,
                id_hash: &'a [u8; 32],
            ) -> gantry_registry::BoxFut<'a, gantry_registry::store::StoreResult<()>> {
                self.$inner.delete_session(id_hash)
            }
            fn delete_expired(
                &self,
                now: i64,
            ) -> gantry_registry::BoxFut<'_, gantry_registry::store::StoreResult<u64>> {
                self.$inner.delete_expired(now)
            }
            fn login_failures<'a>(
                &'a self,
                login: &'a str,
                window_start: i64,
            ) -> gantry_registry::BoxFut<'a, gantry_registry::store::StoreResult<u32>> {
                self.$inner.login_failures(login, window_start)
            }
            fn record_login_failure<'a>(
                &'a self,
                login: &'a str,
                now: i64,
                window_start: i64,
            ) -> gantry_registry::BoxFut<'a, gantry_registry::store::StoreResult<()>> {
                self.$inner.record_login_failure(login, now, window_start)
            }
            fn clear_login_failures<'a>(
                &'a self,
                login: &'a str,
            ) -> gantry_registry::BoxFut<'a, gantry_registry::store::StoreResult<()>> {
                self.$inner.clear_login_failures(login)
            }
            fn save_oidc_login<'a>(
                &'a self,
                state_hash: &'a [u8; 32],
                login: &'a gantry_registry::store::accounts::PendingOidcLogin,
            ) -> gantry_registry::BoxFut<'a, gantry_registry::store::StoreResult<()>> {
                self.$inner.save_oidc_login(state_hash, login)
            }
            fn take_oidc_login<'a>(
                &'a self,
                state_hash: &'a [u8; 32],
            ) -> gantry_registry::BoxFut<
                'a,
                gantry_registry::store::StoreResult<
                    Option<gantry_registry::store::accounts::PendingOidcLogin>,
                >,
            > {
                self.$inner.take_oidc_login(state_hash)
            }
            fn invite_owner(
                &self,
                crate_id: i64,
                invitee: i64,
                inviter: i64,
                now: i64,
                expired_before: i64,
            ) -> gantry_registry::BoxFut<
                '_,
                gantry_registry::store::StoreResult<
                    gantry_registry::store::accounts::InviteOutcome,
                >,
            > {
                self.$inner
                    .invite_owner(crate_id, invitee, inviter, now, expired_before)
            }
            fn invitations(
                &self,
                invitee: Option<i64>,
                crate_id: Option<i64>,
            ) -> gantry_registry::BoxFut<
                '_,
                gantry_registry::store::StoreResult<
                    Vec<gantry_registry::store::accounts::Invitation>,
                >,
            > {
                self.$inner.invitations(invitee, crate_id)
            }
            fn answer_invitation(
                &self,
                crate_id: i64,
                invitee: i64,
                accept: bool,
                expired_before: i64,
            ) -> gantry_registry::BoxFut<
                '_,
                gantry_registry::store::StoreResult<gantry_registry::store::accounts::InviteAnswer>,
            > {
                self.$inner
                    .answer_invitation(crate_id, invitee, accept, expired_before)
            }
            fn cancel_invitation(
                &self,
                crate_id: i64,
                invitee: i64,
            ) -> gantry_registry::BoxFut<'_, gantry_registry::store::StoreResult<bool>> {
                self.$inner.cancel_invitation(crate_id, invitee)
            }
        }

        impl gantry_registry::store::PageStore for $ty {
            fn registry_counts(
                &self,
            ) -> gantry_registry::BoxFut<
                '_,
                gantry_registry::store::StoreResult<gantry_registry::store::pages::RegistryCounts>,
            > {
                self.$inner.registry_counts()
            }
            fn recent_crates(
                &self,
                updated: bool,
                limit: u32,
            ) -> gantry_registry::BoxFut<
                '_,
                gantry_registry::store::StoreResult<
                    Vec<gantry_registry::store::pages::RecentCrate>,
                >,
            > {
                self.$inner.recent_crates(updated, limit)
            }
            fn search_page<'a>(
                &'a self,
                query: &'a str,
                offset: u64,
                limit: u32,
            ) -> gantry_registry::BoxFut<
                'a,
                gantry_registry::store::StoreResult<(Vec<gantry_registry::store::CrateInfo>, u64)>,
            > {
                self.$inner.search_page(query, offset, limit)
            }
            fn version_listing(
                &self,
                crate_id: i64,
            ) -> gantry_registry::BoxFut<
                '_,
                gantry_registry::store::StoreResult<
                    Vec<gantry_registry::store::pages::VersionListing>,
                >,
            > {
                self.$inner.version_listing(crate_id)
            }
            fn version_id<'a>(
                &'a self,
                crate_id: i64,
                num: &'a str,
            ) -> gantry_registry::BoxFut<'a, gantry_registry::store::StoreResult<Option<i64>>> {
                self.$inner.version_id(crate_id, num)
            }
            fn version_details(
                &self,
                version_id: i64,
            ) -> gantry_registry::BoxFut<
                '_,
                gantry_registry::store::StoreResult<
                    Option<gantry_registry::store::pages::StoredDetails>,
                >,
            > {
                self.$inner.version_details(version_id)
            }
            fn save_version_details<'a>(
                &'a self,
                version_id: i64,
                details: &'a gantry_registry::store::pages::StoredDetails,
                deps: &'a [gantry_registry::store::pages::LocalDep],
            ) -> gantry_registry::BoxFut<'a, gantry_registry::store::StoreResult<()>> {
                self.$inner.save_version_details(version_id, details, deps)
            }
            fn versions_missing_details(
                &self,
                limit: u32,
            ) -> gantry_registry::BoxFut<
                '_,
                gantry_registry::store::StoreResult<
                    Vec<gantry_registry::store::pages::MissingDetails>,
                >,
            > {
                self.$inner.versions_missing_details(limit)
            }
            fn reverse_dependencies<'a>(
                &'a self,
                canon_name: &'a str,
                limit: u32,
            ) -> gantry_registry::BoxFut<
                'a,
                gantry_registry::store::StoreResult<Vec<gantry_registry::store::pages::ReverseDep>>,
            > {
                self.$inner.reverse_dependencies(canon_name, limit)
            }
            fn add_downloads<'a>(
                &'a self,
                batch: &'a gantry_registry::store::pages::DownloadBatch,
            ) -> gantry_registry::BoxFut<'a, gantry_registry::store::StoreResult<()>> {
                self.$inner.add_downloads(batch)
            }
            fn daily_downloads(
                &self,
                crate_id: i64,
                since: i64,
            ) -> gantry_registry::BoxFut<
                '_,
                gantry_registry::store::StoreResult<
                    Vec<gantry_registry::store::pages::DayDownloads>,
                >,
            > {
                self.$inner.daily_downloads(crate_id, since)
            }
        }
        impl gantry_registry::store::TrustPubStore for $ty {
            fn create_trust_config<'a>(
                &'a self,
                new: &'a gantry_registry::store::trustpub::NewTrustConfig,
                max: usize,
            ) -> gantry_registry::BoxFut<
                'a,
                Result<
                    gantry_registry::store::trustpub::TrustConfig,
                    gantry_registry::store::trustpub::CreateConfigError,
                >,
            > {
                self.$inner.create_trust_config(new, max)
            }
            fn trust_configs<'a>(
                &'a self,
                provider: gantry_registry::store::trustpub::Provider,
                filter: &'a gantry_registry::store::trustpub::ConfigFilter,
                after: i64,
                limit: u32,
            ) -> gantry_registry::BoxFut<
                'a,
                gantry_registry::store::StoreResult<gantry_registry::store::trustpub::ConfigPage>,
            > {
                self.$inner.trust_configs(provider, filter, after, limit)
            }
            fn trust_config(
                &self,
                provider: gantry_registry::store::trustpub::Provider,
                id: i64,
            ) -> gantry_registry::BoxFut<
                '_,
                gantry_registry::store::StoreResult<
                    Option<gantry_registry::store::trustpub::TrustConfig>,
                >,
            > {
                self.$inner.trust_config(provider, id)
            }
            fn delete_trust_config(
                &self,
                provider: gantry_registry::store::trustpub::Provider,
                id: i64,
            ) -> gantry_registry::BoxFut<'_, gantry_registry::store::StoreResult<bool>> {
                self.$inner.delete_trust_config(provider, id)
            }
            fn exchange<'a>(
                &'a self,
                ex: &'a gantry_registry::store::trustpub::Exchange,
            ) -> gantry_registry::BoxFut<
                'a,
                Result<(), gantry_registry::store::trustpub::ExchangeRefusal>,
            > {
                self.$inner.exchange(ex)
            }
            fn trusted_token<'a>(
                &'a self,
                hash: &'a [u8; 32],
            ) -> gantry_registry::BoxFut<
                'a,
                gantry_registry::store::StoreResult<
                    Option<gantry_registry::store::trustpub::TrustedToken>,
                >,
            > {
                self.$inner.trusted_token(hash)
            }
            fn revoke_trusted_token<'a>(
                &'a self,
                hash: &'a [u8; 32],
            ) -> gantry_registry::BoxFut<'a, gantry_registry::store::StoreResult<bool>> {
                self.$inner.revoke_trusted_token(hash)
            }
            fn trustpub_only(
                &self,
                crate_id: i64,
            ) -> gantry_registry::BoxFut<'_, gantry_registry::store::StoreResult<bool>> {
                self.$inner.trustpub_only(crate_id)
            }
            fn set_trustpub_only(
                &self,
                crate_id: i64,
                only: bool,
            ) -> gantry_registry::BoxFut<'_, gantry_registry::store::StoreResult<()>> {
                self.$inner.set_trustpub_only(crate_id, only)
            }
            fn owned_crates(
                &self,
                user_id: i64,
            ) -> gantry_registry::BoxFut<
                '_,
                gantry_registry::store::StoreResult<Vec<gantry_registry::store::CrateInfo>>,
            > {
                self.$inner.owned_crates(user_id)
            }
            fn pending_names(
                &self,
                user_id: i64,
            ) -> gantry_registry::BoxFut<'_, gantry_registry::store::StoreResult<Vec<String>>> {
                self.$inner.pending_names(user_id)
            }
        }
    };
}
