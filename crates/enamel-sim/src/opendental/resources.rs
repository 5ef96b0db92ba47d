//! The Open Dental resources the simulator serves, as data: path, primary key, template,
//! change filter, whether rows carry `serverDateTime`, list filters and required
//! parameters — each as the official API page documents it.

/// How a list query parameter filters rows.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Filter {
    /// Rows whose field equals the value (numbers, names; case-insensitive text).
    Eq(&'static str),
    /// Rows whose date-time field falls on that day (`yyyy-MM-dd`).
    Day(&'static str),
    /// Rows whose date-time field is on or after that day.
    From(&'static str),
    /// Rows whose date-time field is on or before that day.
    To(&'static str),
    /// Rows whose date field is on or after that day (`yyyy-MM-dd`).
    DateOnOrAfter(&'static str),
    /// Text fields that start with the value, case-insensitively.
    Prefix(&'static str),
}

/// One resource.
#[derive(Debug)]
pub(crate) struct Resource {
    /// Path segment (`patients`).
    pub(crate) name: &'static str,
    /// The primary key field (`PatNum`).
    pub(crate) pk: &'static str,
    /// The documented object.
    pub(crate) template: &'static str,
    /// The change filter: (query parameter, field). Only where the API has one.
    pub(crate) stamp: Option<(&'static str, &'static str)>,
    /// Rows carry `serverDateTime`.
    pub(crate) server_time: bool,
    /// Other list filters: (query parameter, how).
    pub(crate) filters: &'static [(&'static str, Filter)],
    /// Parameters the list requires.
    pub(crate) required: &'static [&'static str],
    /// The list is served at this path instead of `/{name}` (patients: `Simple`).
    pub(crate) list_suffix: Option<&'static str>,
}

macro_rules! tpl {
    ($name:literal) => {
        include_str!(concat!("../../templates/opendental/", $name, ".json"))
    };
}

use Filter::*;

/// Every resource, in dependency order (what a sync reads first comes first).
pub(crate) const RESOURCES: &[Resource] = &[
    Resource {
        name: "clinics",
        pk: "ClinicNum",
        template: tpl!("clinics"),
        stamp: None,
        server_time: false,
        filters: &[],
        required: &[],
        list_suffix: None,
    },
    Resource {
        name: "definitions",
        pk: "DefNum",
        template: tpl!("definitions"),
        stamp: None,
        server_time: false,
        filters: &[("Category", Eq("Category"))],
        required: &[],
        list_suffix: None,
    },
    Resource {
        name: "covcats",
        pk: "CovCatNum",
        template: tpl!("covcats"),
        stamp: None,
        server_time: false,
        filters: &[],
        required: &[],
        list_suffix: None,
    },
    Resource {
        name: "feescheds",
        pk: "FeeSchedNum",
        template: tpl!("feescheds"),
        stamp: None,
        server_time: false,
        filters: &[],
        required: &[],
        list_suffix: None,
    },
    Resource {
        name: "providers",
        pk: "ProvNum",
        template: tpl!("providers"),
        stamp: Some(("DateTStamp", "DateTStamp")),
        server_time: true,
        filters: &[("ClinicNum", Eq("ClinicNum"))],
        required: &[],
        list_suffix: None,
    },
    Resource {
        name: "operatories",
        pk: "OperatoryNum",
        template: tpl!("operatories"),
        stamp: None,
        server_time: false,
        filters: &[("ClinicNum", Eq("ClinicNum"))],
        required: &[],
        list_suffix: None,
    },
    Resource {
        name: "procedurecodes",
        pk: "CodeNum",
        template: tpl!("procedurecodes"),
        stamp: Some(("DateTStamp", "DateTStamp")),
        server_time: false,
        filters: &[],
        required: &[],
        list_suffix: None,
    },
    Resource {
        name: "fees",
        pk: "FeeNum",
        template: tpl!("fees"),
        stamp: None,
        server_time: false,
        filters: &[
            ("FeeSched", Eq("FeeSched")),
            ("CodeNum", Eq("CodeNum")),
            ("ClinicNum", Eq("ClinicNum")),
            ("ProvNum", Eq("ProvNum")),
        ],
        required: &[],
        list_suffix: None,
    },
    Resource {
        name: "referrals",
        pk: "ReferralNum",
        template: tpl!("referrals"),
        stamp: None,
        server_time: false,
        filters: &[],
        required: &[],
        list_suffix: None,
    },
    Resource {
        name: "patients",
        pk: "PatNum",
        template: tpl!("patients"),
        stamp: Some(("DateTStamp", "DateTStamp")),
        server_time: true,
        filters: &[
            ("LName", Prefix("LName")),
            ("FName", Prefix("FName")),
            ("PatStatus", Eq("PatStatus")),
            ("ClinicNum", Eq("ClinicNum")),
            ("PriProv", Eq("PriProv")),
            ("Guarantor", Eq("Guarantor")),
        ],
        required: &[],
        list_suffix: Some("Simple"),
    },
    Resource {
        name: "refattaches",
        pk: "RefAttachNum",
        template: tpl!("refattaches"),
        stamp: Some(("DateTStamp", "DateTStamp")),
        server_time: false,
        filters: &[("PatNum", Eq("PatNum"))],
        required: &[],
        list_suffix: None,
    },
    Resource {
        name: "appointments",
        pk: "AptNum",
        template: tpl!("appointments"),
        stamp: Some(("DateTStamp", "DateTStamp")),
        server_time: true,
        filters: &[
            ("PatNum", Eq("PatNum")),
            ("AptStatus", Eq("AptStatus")),
            ("Op", Eq("Op")),
            ("ClinicNum", Eq("ClinicNum")),
            ("date", Day("AptDateTime")),
            ("dateStart", From("AptDateTime")),
            ("dateEnd", To("AptDateTime")),
        ],
        required: &[],
        list_suffix: None,
    },
    Resource {
        name: "histappointments",
        pk: "HistApptNum",
        template: tpl!("histappointments"),
        stamp: None,
        server_time: false,
        filters: &[
            ("HistApptAction", Eq("HistApptAction")),
            ("AptNum", Eq("AptNum")),
            ("PatNum", Eq("PatNum")),
            ("AptStatus", Eq("AptStatus")),
            ("ClinicNum", Eq("ClinicNum")),
            ("date", Day("AptDateTime")),
            ("dateStart", From("AptDateTime")),
            ("dateEnd", To("AptDateTime")),
        ],
        required: &[],
        list_suffix: None,
    },
    Resource {
        name: "procedurelogs",
        pk: "ProcNum",
        template: tpl!("procedurelogs"),
        stamp: Some(("DateTStamp", "DateTStamp")),
        server_time: true,
        filters: &[
            ("PatNum", Eq("PatNum")),
            ("AptNum", Eq("AptNum")),
            ("ProcStatus", Eq("ProcStatus")),
            ("ClinicNum", Eq("ClinicNum")),
            ("CodeNum", Eq("CodeNum")),
        ],
        required: &[],
        list_suffix: None,
    },
    Resource {
        name: "treatplans",
        pk: "TreatPlanNum",
        template: tpl!("treatplans"),
        stamp: Some(("SecDateTEdit", "SecDateTEdit")),
        server_time: false,
        filters: &[("PatNum", Eq("PatNum")), ("TPStatus", Eq("TPStatus"))],
        required: &[],
        list_suffix: None,
    },
    Resource {
        name: "treatplanattaches",
        pk: "TreatPlanAttachNum",
        template: tpl!("treatplanattaches"),
        stamp: None,
        server_time: false,
        filters: &[("TreatPlanNum", Eq("TreatPlanNum"))],
        required: &["TreatPlanNum"],
        list_suffix: None,
    },
    Resource {
        name: "proctps",
        pk: "ProcTPNum",
        template: tpl!("proctps"),
        stamp: None,
        server_time: false,
        filters: &[("TreatPlanNum", Eq("TreatPlanNum"))],
        required: &["TreatPlanNum"],
        list_suffix: None,
    },
    Resource {
        name: "carriers",
        pk: "CarrierNum",
        template: tpl!("carriers"),
        stamp: None,
        server_time: false,
        filters: &[],
        required: &[],
        list_suffix: None,
    },
    Resource {
        name: "insplans",
        pk: "PlanNum",
        template: tpl!("insplans"),
        stamp: None,
        server_time: false,
        filters: &[("PlanType", Eq("PlanType")), ("CarrierNum", Eq("CarrierNum"))],
        required: &[],
        list_suffix: None,
    },
    Resource {
        name: "inssubs",
        pk: "InsSubNum",
        template: tpl!("inssubs"),
        stamp: Some(("SecDateTEdit", "SecDateTEdit")),
        server_time: false,
        filters: &[("PlanNum", Eq("PlanNum")), ("Subscriber", Eq("Subscriber"))],
        required: &[],
        list_suffix: None,
    },
    Resource {
        name: "patplans",
        pk: "PatPlanNum",
        template: tpl!("patplans"),
        stamp: None,
        server_time: false,
        filters: &[("PatNum", Eq("PatNum")), ("InsSubNum", Eq("InsSubNum"))],
        required: &[],
        list_suffix: None,
    },
    Resource {
        name: "benefits",
        pk: "BenefitNum",
        template: tpl!("benefits"),
        stamp: None,
        server_time: false,
        filters: &[("PlanNum", Eq("PlanNum")), ("PatPlanNum", Eq("PatPlanNum"))],
        required: &[],
        list_suffix: None,
    },
    Resource {
        name: "claims",
        pk: "ClaimNum",
        template: tpl!("claims"),
        stamp: Some(("SecDateTEdit", "SecDateTEdit")),
        server_time: false,
        filters: &[("PatNum", Eq("PatNum")), ("ClaimStatus", Eq("ClaimStatus"))],
        required: &[],
        list_suffix: None,
    },
    Resource {
        name: "claimprocs",
        pk: "ClaimProcNum",
        template: tpl!("claimprocs"),
        stamp: None,
        server_time: false,
        filters: &[
            ("ProcNum", Eq("ProcNum")),
            ("ClaimNum", Eq("ClaimNum")),
            ("PatNum", Eq("PatNum")),
            ("Status", Eq("Status")),
        ],
        required: &[],
        list_suffix: None,
    },
    Resource {
        name: "payments",
        pk: "PayNum",
        template: tpl!("payments"),
        stamp: None,
        server_time: true,
        filters: &[("PatNum", Eq("PatNum")), ("PayType", Eq("PayType")), ("DateEntry", DateOnOrAfter("DateEntry"))],
        required: &[],
        list_suffix: None,
    },
    Resource {
        name: "paysplits",
        pk: "SplitNum",
        template: tpl!("paysplits"),
        stamp: None,
        server_time: false,
        filters: &[("PayNum", Eq("PayNum")), ("PatNum", Eq("PatNum")), ("ProcNum", Eq("ProcNum"))],
        required: &[],
        list_suffix: None,
    },
    Resource {
        name: "adjustments",
        pk: "AdjNum",
        template: tpl!("adjustments"),
        stamp: None,
        server_time: false,
        filters: &[("PatNum", Eq("PatNum")), ("AdjType", Eq("AdjType")), ("ProcNum", Eq("ProcNum"))],
        required: &["PatNum"],
        list_suffix: None,
    },
    Resource {
        name: "commlogs",
        pk: "CommlogNum",
        template: tpl!("commlogs"),
        stamp: Some(("DateTStamp", "DateTStamp")),
        server_time: false,
        filters: &[("PatNum", Eq("PatNum")), ("CommType", Eq("CommType"))],
        required: &[],
        list_suffix: None,
    },
];

/// A resource by path segment, case-insensitively.
pub(crate) fn find(name: &str) -> Option<&'static Resource> {
    RESOURCES.iter().find(|r| r.name.eq_ignore_ascii_case(name))
}
