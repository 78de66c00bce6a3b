//! The tokens the store knows: the static token, preflight upload tokens and the access and
//! refresh tokens of [`crate::auth`], and the test controls over them.

use super::{lock, Shared};
use crate::auth::{Caller, TokenStatus};
use crate::config::SERVICE_ACCOUNT_ID;
use crate::util::constant_time_eq;
use std::time::Duration;

/// How many preflight upload tokens are remembered.
const MAX_UPLOAD_TOKENS: usize = 1024;

/// Who a bearer token acts as.
pub(crate) enum TokenOwner {
    /// A token in force.
    Caller(Caller),
    /// An issued token that expired, was revoked or was invalidated.
    Dead,
    /// A token the emulator never issued.
    Unknown,
}

impl Shared {
    /// Who `token` acts as. Preflight upload tokens count only where `allow_upload_token`.
    pub fn token_owner(&self, token: &str, allow_upload_token: bool) -> TokenOwner {
        if constant_time_eq(token.as_bytes(), self.config.token.as_bytes()) {
            return TokenOwner::Caller(Caller::service_account());
        }
        if allow_upload_token && lock(&self.upload_tokens).iter().any(|u| u == token) {
            return TokenOwner::Caller(Caller::service_account());
        }
        match lock(&self.auth).check(token) {
            TokenStatus::Valid(user) => TokenOwner::Caller(Caller { user }),
            TokenStatus::Dead => TokenOwner::Dead,
            TokenStatus::Unknown => TokenOwner::Unknown,
        }
    }

    /// A new preflight upload token (the oldest is forgotten past [`MAX_UPLOAD_TOKENS`]).
    pub fn new_upload_token(&self) -> String {
        let token = format!("UT{}", crate::error::new_request_id());
        let mut tokens = lock(&self.upload_tokens);
        if tokens.len() >= MAX_UPLOAD_TOKENS {
            tokens.pop_front();
        }
        tokens.push_back(token.clone());
        token
    }

    /// Whether `id` is a configured user (never the service account).
    pub fn is_user(&self, id: &str) -> bool {
        id != SERVICE_ACCOUNT_ID && self.config.users.iter().any(|u| u == id)
    }

    /// A refresh token for configured user `user`, or `None` if there is no such user.
    pub fn mint_refresh_token(&self, user: &str) -> Option<String> {
        if !self.is_user(user) {
            return None;
        }
        let token = lock(&self.auth).mint_refresh(user);
        self.counters().auth.refresh_tokens_issued += 1;
        Some(token)
    }

    /// Moves the token clock forward; returns how far ahead of the real clock it now is.
    pub fn advance_token_clock(&self, by: Duration) -> Duration {
        let mut auth = lock(&self.auth);
        auth.advance_clock(by);
        auth.clock_offset()
    }

    /// Invalidates every access token issued so far; returns how many were in force.
    pub fn expire_tokens(&self) -> u64 {
        let n = lock(&self.auth).expire_all();
        let mut c = self.counters();
        c.injected.expire_tokens += 1;
        c.auth.tokens_invalidated += n;
        n
    }
}
