//! The `Node` interface: every entity, found by its opaque global id.

use async_graphql::{Context, ID, Interface};

use crate::connection::load_opt;
use crate::error::ApiResult;
use crate::global_id;
use crate::types::*;

/// An object with a global id.
#[derive(Interface)]
#[graphql(field(name = "id", ty = "ID", desc = "Opaque global id."))]
pub enum Node {
    /// Location.
    Location(Location),
    /// Provider.
    Provider(Provider),
    /// Operatory.
    Operatory(Operatory),
    /// Family.
    Family(Family),
    /// Patient.
    Patient(Patient),
    /// PatientTag.
    PatientTag(PatientTag),
    /// PatientTagAssignment.
    PatientTagAssignment(PatientTagAssignment),
    /// ReferralSource.
    ReferralSource(ReferralSource),
    /// PatientReferral.
    PatientReferral(PatientReferral),
    /// ProcedureCode.
    ProcedureCode(ProcedureCode),
    /// Appointment.
    Appointment(Appointment),
    /// CheckIn.
    CheckIn(CheckIn),
    /// Visit.
    Visit(Visit),
    /// VisitStep.
    VisitStep(VisitStep),
    /// Procedure.
    Procedure(Procedure),
    /// TreatmentPlan.
    TreatmentPlan(TreatmentPlan),
    /// TreatmentPlanItem.
    TreatmentPlanItem(TreatmentPlanItem),
    /// InsuranceCarrier.
    InsuranceCarrier(InsuranceCarrier),
    /// InsurancePlan.
    InsurancePlan(InsurancePlan),
    /// InsuranceSubscriber.
    InsuranceSubscriber(InsuranceSubscriber),
    /// PatientPlan.
    PatientPlan(PatientPlan),
    /// Benefit.
    Benefit(Benefit),
    /// Claim.
    Claim(Claim),
    /// ClaimProcedure.
    ClaimProcedure(ClaimProcedure),
    /// Payment.
    Payment(Payment),
    /// PaymentAllocation.
    PaymentAllocation(PaymentAllocation),
    /// Adjustment.
    Adjustment(Adjustment),
    /// FeeSchedule.
    FeeSchedule(FeeSchedule),
    /// Fee.
    Fee(Fee),
    /// Commlog.
    Commlog(Commlog),
    /// InventoryItem.
    InventoryItem(InventoryItem),
    /// StockPicking.
    StockPicking(StockPicking),
    /// StockMove.
    StockMove(StockMove),
    /// SourceReference.
    SourceReference(SourceReference),
}

/// The object a global id names, if it is in the viewer's practice.
pub(crate) async fn node(ctx: &Context<'_>, id: &ID) -> ApiResult<Option<Node>> {
    let (type_name, uuid) = global_id::decode(id)?;
    Ok(match type_name.as_str() {
        "Location" => {
            load_opt::<Location>(ctx, Some(enamel_domain::ids::LocationId::from(uuid))).await?.map(Node::Location)
        }
        "Provider" => {
            load_opt::<Provider>(ctx, Some(enamel_domain::ids::ProviderId::from(uuid))).await?.map(Node::Provider)
        }
        "Operatory" => {
            load_opt::<Operatory>(ctx, Some(enamel_domain::ids::OperatoryId::from(uuid))).await?.map(Node::Operatory)
        }
        "Family" => load_opt::<Family>(ctx, Some(enamel_domain::ids::FamilyId::from(uuid))).await?.map(Node::Family),
        "Patient" => {
            load_opt::<Patient>(ctx, Some(enamel_domain::ids::PatientId::from(uuid))).await?.map(Node::Patient)
        }
        "PatientTag" => {
            load_opt::<PatientTag>(ctx, Some(enamel_domain::ids::PatientTagId::from(uuid))).await?.map(Node::PatientTag)
        }
        "PatientTagAssignment" => {
            load_opt::<PatientTagAssignment>(ctx, Some(enamel_domain::ids::PatientTagAssignmentId::from(uuid)))
                .await?
                .map(Node::PatientTagAssignment)
        }
        "ReferralSource" => load_opt::<ReferralSource>(ctx, Some(enamel_domain::ids::ReferralSourceId::from(uuid)))
            .await?
            .map(Node::ReferralSource),
        "PatientReferral" => load_opt::<PatientReferral>(ctx, Some(enamel_domain::ids::PatientReferralId::from(uuid)))
            .await?
            .map(Node::PatientReferral),
        "ProcedureCode" => load_opt::<ProcedureCode>(ctx, Some(enamel_domain::ids::ProcedureCodeId::from(uuid)))
            .await?
            .map(Node::ProcedureCode),
        "Appointment" => load_opt::<Appointment>(ctx, Some(enamel_domain::ids::AppointmentId::from(uuid)))
            .await?
            .map(Node::Appointment),
        "CheckIn" => {
            load_opt::<CheckIn>(ctx, Some(enamel_domain::ids::CheckInId::from(uuid))).await?.map(Node::CheckIn)
        }
        "Visit" => load_opt::<Visit>(ctx, Some(enamel_domain::ids::VisitId::from(uuid))).await?.map(Node::Visit),
        "VisitStep" => {
            load_opt::<VisitStep>(ctx, Some(enamel_domain::ids::VisitStepId::from(uuid))).await?.map(Node::VisitStep)
        }
        "Procedure" => {
            load_opt::<Procedure>(ctx, Some(enamel_domain::ids::ProcedureId::from(uuid))).await?.map(Node::Procedure)
        }
        "TreatmentPlan" => load_opt::<TreatmentPlan>(ctx, Some(enamel_domain::ids::TreatmentPlanId::from(uuid)))
            .await?
            .map(Node::TreatmentPlan),
        "TreatmentPlanItem" => {
            load_opt::<TreatmentPlanItem>(ctx, Some(enamel_domain::ids::TreatmentPlanItemId::from(uuid)))
                .await?
                .map(Node::TreatmentPlanItem)
        }
        "InsuranceCarrier" => {
            load_opt::<InsuranceCarrier>(ctx, Some(enamel_domain::ids::InsuranceCarrierId::from(uuid)))
                .await?
                .map(Node::InsuranceCarrier)
        }
        "InsurancePlan" => load_opt::<InsurancePlan>(ctx, Some(enamel_domain::ids::InsurancePlanId::from(uuid)))
            .await?
            .map(Node::InsurancePlan),
        "InsuranceSubscriber" => {
            load_opt::<InsuranceSubscriber>(ctx, Some(enamel_domain::ids::InsuranceSubscriberId::from(uuid)))
                .await?
                .map(Node::InsuranceSubscriber)
        }
        "PatientPlan" => load_opt::<PatientPlan>(ctx, Some(enamel_domain::ids::PatientPlanId::from(uuid)))
            .await?
            .map(Node::PatientPlan),
        "Benefit" => {
            load_opt::<Benefit>(ctx, Some(enamel_domain::ids::BenefitId::from(uuid))).await?.map(Node::Benefit)
        }
        "Claim" => load_opt::<Claim>(ctx, Some(enamel_domain::ids::ClaimId::from(uuid))).await?.map(Node::Claim),
        "ClaimProcedure" => load_opt::<ClaimProcedure>(ctx, Some(enamel_domain::ids::ClaimProcedureId::from(uuid)))
            .await?
            .map(Node::ClaimProcedure),
        "Payment" => {
            load_opt::<Payment>(ctx, Some(enamel_domain::ids::PaymentId::from(uuid))).await?.map(Node::Payment)
        }
        "PaymentAllocation" => {
            load_opt::<PaymentAllocation>(ctx, Some(enamel_domain::ids::PaymentAllocationId::from(uuid)))
                .await?
                .map(Node::PaymentAllocation)
        }
        "Adjustment" => {
            load_opt::<Adjustment>(ctx, Some(enamel_domain::ids::AdjustmentId::from(uuid))).await?.map(Node::Adjustment)
        }
        "FeeSchedule" => load_opt::<FeeSchedule>(ctx, Some(enamel_domain::ids::FeeScheduleId::from(uuid)))
            .await?
            .map(Node::FeeSchedule),
        "Fee" => load_opt::<Fee>(ctx, Some(enamel_domain::ids::FeeId::from(uuid))).await?.map(Node::Fee),
        "Commlog" => {
            load_opt::<Commlog>(ctx, Some(enamel_domain::ids::CommlogId::from(uuid))).await?.map(Node::Commlog)
        }
        "InventoryItem" => load_opt::<InventoryItem>(ctx, Some(enamel_domain::ids::InventoryItemId::from(uuid)))
            .await?
            .map(Node::InventoryItem),
        "StockPicking" => load_opt::<StockPicking>(ctx, Some(enamel_domain::ids::StockPickingId::from(uuid)))
            .await?
            .map(Node::StockPicking),
        "StockMove" => {
            load_opt::<StockMove>(ctx, Some(enamel_domain::ids::StockMoveId::from(uuid))).await?.map(Node::StockMove)
        }
        "SourceReference" => load_opt::<SourceReference>(ctx, Some(enamel_domain::ids::SourceReferenceId::from(uuid)))
            .await?
            .map(Node::SourceReference),
        _ => None,
    })
}
