//! Derived views and the AI context, over the pure computations of
//! `enamel_domain::views`.

use async_graphql::Context;
use enamel_domain::ids::PatientId;

use crate::connection::Entity;
use crate::error::{ApiError, ApiResult};
use crate::types::Patient;
use crate::viewer::loaders;

/// A patient for a caller holding `read` or `context` (the patient's fields then check
/// `read` themselves; `context` checks either).
pub(crate) async fn patient_for_context(ctx: &Context<'_>, id: PatientId) -> ApiResult<Patient> {
    let row = loaders(ctx)?.load_one(crate::loader::ById(id)).await?;
    row.map(Patient::wrap).ok_or_else(|| ApiError::not_found(Patient::NAME).into())
}
