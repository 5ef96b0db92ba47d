//! Who is asking: the practice a credential is bound to and its scopes. Every resolver
//! reads through the viewer's practice; there is no way to name another.

use async_graphql::Context;
use enamel_domain::{Currency, Practice, PracticeId, Scope};

use crate::error::{ApiError, Code};
use crate::loader::Loaders;

/// The authenticated caller of one request.
#[derive(Debug, Clone)]
pub struct Viewer {
    /// The practice the credential is bound to.
    pub practice: Practice,
    /// The credential's stable id (`api_key:<uuid>`): who proposed or approved, in the
    /// write-back trail.
    pub credential: String,
    /// The credential's name (an API key's label).
    pub name: String,
    /// What it may do.
    pub scopes: Vec<Scope>,
}

impl Viewer {
    /// The practice id.
    pub fn practice_id(&self) -> PracticeId {
        self.practice.id
    }

    /// Whether the viewer holds `scope`.
    pub fn has(&self, scope: Scope) -> bool {
        self.scopes.contains(&scope)
    }

    /// `FORBIDDEN` unless the viewer holds `scope`.
    pub fn require(&self, scope: Scope) -> Result<(), ApiError> {
        if self.has(scope) {
            Ok(())
        } else {
            Err(ApiError::new(Code::Forbidden, format!("this operation needs the {scope} scope")))
        }
    }
}

/// The request's viewer, or `UNAUTHENTICATED`.
pub(crate) fn viewer<'a>(ctx: &Context<'a>) -> Result<&'a Viewer, ApiError> {
    ctx.data_opt::<Viewer>()
        .ok_or_else(|| ApiError::new(Code::Unauthenticated, "send an API key: Authorization: Bearer <key>"))
}

/// The viewer, who must hold `read`.
pub(crate) fn reader<'a>(ctx: &Context<'a>) -> Result<&'a Viewer, ApiError> {
    let v = viewer(ctx)?;
    v.require(Scope::Read)?;
    Ok(v)
}

/// The practice currency.
pub(crate) fn currency(ctx: &Context<'_>) -> Currency {
    ctx.data_opt::<Viewer>().map_or(Currency::Usd, |v| v.practice.currency)
}

/// The request's loaders.
pub(crate) fn loaders<'a>(ctx: &Context<'a>) -> Result<&'a Loaders, ApiError> {
    ctx.data_opt::<Loaders>()
        .ok_or_else(|| ApiError::new(Code::Unauthenticated, "send an API key: Authorization: Bearer <key>"))
}
