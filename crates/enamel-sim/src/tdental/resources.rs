//! The TDental data sets the simulator serves, as data: list path, template, default page
//! size, sort order, business-date window, fields the list rows lack (only the `/{id}`
//! detail has them) and list filters — as the reference README (§2.3, §2.8, §3) records
//! them.
//!
//! Templates are real rows of the 2026 captures/samples (`api-samples-2026-04`,
//! `api-captures-2026-02`), except where no capture exists: `saleorderpayments`,
//! `stockpickings`, `stockmoves`, `applicationroles`, `resgroups`, `commissions`,
//! `partnertitles` are built from the field lists of README §3.8, §3.14 and §3.15.

/// How a list query parameter filters rows (applied to the stored fields, including those
/// the list row does not show).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Filter {
    /// The field equals the value (case-insensitive text).
    Eq(&'static str),
    /// The field is one of a comma-separated list of values.
    OneOf(&'static str),
    /// A boolean field equals `true`/`false`.
    Flag(&'static str),
    /// With `true`, rows whose boolean field is set are left out.
    Exclude(&'static str),
    /// Any of these text fields contains the value, case-insensitively.
    Search(&'static [&'static str]),
}

/// The order of a list.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Sort {
    /// By this date-time field ascending, then creation.
    Asc(&'static str),
    /// By this date-time field descending, then creation descending.
    Desc(&'static str),
    /// By creation (the COMB GUID's time) descending: newest first.
    CreatedDesc,
    /// By creation ascending.
    CreatedAsc,
}

/// A business-date window: (from parameter, to parameter, field, one-sided is a 500).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Window {
    pub(crate) from: &'static str,
    pub(crate) to: &'static str,
    /// Aliases accepted for the same window (`dateOrderFrom`/`dateOrderTo` on lines).
    pub(crate) alias: Option<(&'static str, &'static str)>,
    pub(crate) field: &'static str,
    pub(crate) paired: bool,
}

/// One data set.
#[derive(Debug)]
pub(crate) struct Resource {
    /// The data set's name (counts, mutations).
    pub(crate) name: &'static str,
    /// The list path below `/api/`, lowercase.
    pub(crate) path: &'static str,
    /// The row template.
    pub(crate) template: &'static str,
    /// Page size when `limit` is absent (0 = all).
    pub(crate) default_limit: usize,
    /// `limit=0` echoes `2147483647` instead of `0`.
    pub(crate) echo_max: bool,
    /// The list order.
    pub(crate) sort: Sort,
    /// The business-date window, if the list has one.
    pub(crate) window: Option<Window>,
    /// Fields stored on the row but absent from list rows (present in `/{id}`).
    pub(crate) hidden: &'static [&'static str],
    /// List filters: (query parameter, how).
    pub(crate) filters: &'static [(&'static str, Filter)],
}

macro_rules! tpl {
    ($name:literal) => {
        include_str!(concat!("../../templates/tdental/", $name, ".json"))
    };
}

use Filter::*;

const NO_FILTERS: &[(&str, Filter)] = &[];

/// Every data set, in dependency order.
pub(crate) const RESOURCES: &[Resource] = &[
    Resource {
        name: "companies",
        path: "companies",
        template: tpl!("companies"),
        default_limit: 0,
        echo_max: true,
        sort: Sort::CreatedAsc,
        window: None,
        hidden: &[],
        filters: &[("active", Flag("active"))],
    },
    Resource {
        name: "productcategories",
        path: "productcategories",
        template: tpl!("productcategories"),
        default_limit: 0,
        echo_max: false,
        sort: Sort::CreatedAsc,
        window: None,
        hidden: &["type"],
        filters: &[("type", Eq("type")), ("search", Search(&["name"]))],
    },
    Resource {
        name: "products",
        path: "products",
        template: tpl!("products"),
        default_limit: 20,
        echo_max: false,
        sort: Sort::CreatedAsc,
        window: None,
        hidden: &[],
        filters: &[
            ("type", Eq("type")),
            ("type2", Eq("type2")),
            ("categId", Eq("categId")),
            ("active", Flag("active")),
            ("saleOK", Flag("saleOK")),
            ("purchaseOK", Flag("purchaseOK")),
            ("isLabo", Flag("isLabo")),
            ("companyId", Eq("companyId")),
            ("search", Search(&["name", "defaultCode", "nameNoSign"])),
        ],
    },
    Resource {
        name: "partnertitles",
        path: "partnertitles",
        template: tpl!("partnertitles"),
        default_limit: 20,
        echo_max: false,
        sort: Sort::CreatedAsc,
        window: None,
        hidden: &[],
        filters: &[("search", Search(&["name"]))],
    },
    Resource {
        name: "partnersources",
        path: "partnersources",
        template: tpl!("partnersources"),
        default_limit: 20,
        echo_max: false,
        sort: Sort::CreatedAsc,
        window: None,
        hidden: &[],
        filters: &[("isActive", Flag("isActive")), ("search", Search(&["name"]))],
    },
    Resource {
        name: "partnercategories",
        path: "partnercategories",
        template: tpl!("partnercategories"),
        default_limit: 20,
        echo_max: false,
        sort: Sort::CreatedAsc,
        window: None,
        hidden: &[],
        filters: &[("search", Search(&["name"]))],
    },
    Resource {
        name: "applicationroles",
        path: "applicationroles",
        template: tpl!("applicationroles"),
        default_limit: 20,
        echo_max: false,
        sort: Sort::CreatedAsc,
        window: None,
        hidden: &[],
        filters: &[("search", Search(&["name"]))],
    },
    Resource {
        name: "resgroups",
        path: "resgroups",
        template: tpl!("resgroups"),
        default_limit: 20,
        echo_max: false,
        sort: Sort::CreatedAsc,
        window: None,
        hidden: &[],
        filters: &[("search", Search(&["name"]))],
    },
    Resource {
        name: "commissions",
        path: "commissions",
        template: tpl!("commissions"),
        default_limit: 20,
        echo_max: false,
        sort: Sort::CreatedAsc,
        window: None,
        hidden: &[],
        filters: &[("companyId", Eq("companyId")), ("type", Eq("type")), ("search", Search(&["name"]))],
    },
    Resource {
        name: "applicationusers",
        path: "applicationusers",
        template: tpl!("applicationusers"),
        default_limit: 20,
        echo_max: false,
        sort: Sort::CreatedAsc,
        window: None,
        hidden: &["companyId"],
        filters: &[
            ("companyId", Eq("companyId")),
            ("active", Flag("active")),
            ("search", Search(&["name", "userName"])),
        ],
    },
    Resource {
        name: "employees",
        path: "employees",
        template: tpl!("employees"),
        default_limit: 20,
        echo_max: false,
        sort: Sort::CreatedAsc,
        window: None,
        hidden: &["userId", "partnerId"],
        filters: &[
            ("companyId", Eq("companyId")),
            ("active", Flag("active")),
            ("isDoctor", Flag("isDoctor")),
            ("isAssistant", Flag("isAssistant")),
            ("isReceptionist", Flag("isReceptionist")),
            ("hrJobId", Eq("hrJobId")),
            ("search", Search(&["name", "ref", "phone"])),
        ],
    },
    Resource {
        name: "partners",
        path: "partners/getpagedpartnerscustomer",
        template: tpl!("partners_customer"),
        default_limit: 20,
        echo_max: false,
        sort: Sort::CreatedDesc,
        window: Some(Window { from: "dateFrom", to: "dateTo", alias: None, field: "date", paired: false }),
        hidden: &["dateCreated", "titleId", "note"],
        filters: &[
            ("companyId", Eq("companyId")),
            ("sourceId", Eq("sourceId")),
            ("isActive", Flag("active")),
            ("search", Search(&["name", "ref", "phone"])),
        ],
    },
    Resource {
        name: "quotations",
        path: "quotations",
        template: tpl!("quotations"),
        default_limit: 1,
        echo_max: false,
        sort: Sort::CreatedDesc,
        window: Some(Window { from: "dateFrom", to: "dateTo", alias: None, field: "dateQuotation", paired: false }),
        hidden: &["note", "dateApplies"],
        filters: &[("partnerId", Eq("partnerId")), ("search", Search(&["name"]))],
    },
    Resource {
        name: "appointments",
        path: "appointments",
        template: tpl!("appointments"),
        default_limit: 0,
        echo_max: true,
        sort: Sort::Asc("date"),
        window: Some(Window { from: "dateTimeFrom", to: "dateTimeTo", alias: None, field: "date", paired: true }),
        hidden: &["userId", "dateCreated", "saleOrderId", "dotKhamId"],
        filters: &[
            ("companyId", Eq("companyId")),
            ("doctorId", Eq("doctorId")),
            ("partnerId", Eq("partnerId")),
            ("state", OneOf("state")),
            ("isRepeatCustomer", Flag("isRepeatCustomer")),
            ("userId", Eq("userId")),
            ("saleOrderId", Eq("saleOrderId")),
            ("dotKhamId", Eq("dotKhamId")),
            ("search", Search(&["name", "note"])),
        ],
    },
    Resource {
        name: "customerreceipts",
        path: "customerreceipts",
        template: tpl!("customerreceipts"),
        default_limit: 20,
        echo_max: false,
        sort: Sort::Desc("dateWaiting"),
        window: Some(Window { from: "dateFrom", to: "dateTo", alias: None, field: "dateWaiting", paired: true }),
        hidden: &["companyId", "timeExpected", "userId"],
        filters: &[
            ("companyId", Eq("companyId")),
            ("doctorId", Eq("doctorId")),
            ("partnerId", Eq("partnerId")),
            ("state", Eq("state")),
            ("search", Search(&["note"])),
        ],
    },
    Resource {
        name: "saleorders",
        path: "saleorders",
        template: tpl!("saleorders"),
        default_limit: 20,
        echo_max: false,
        sort: Sort::CreatedDesc,
        window: Some(Window {
            from: "dateOrderFrom",
            to: "dateOrderTo",
            alias: None,
            field: "dateOrder",
            paired: false,
        }),
        hidden: &["companyId", "userId", "doctorId", "amountUntaxed", "invoiceStatus", "quotationId", "isQuotation"],
        filters: &[
            ("companyId", Eq("companyId")),
            ("partnerId", Eq("partnerId")),
            ("doctorId", Eq("doctorId")),
            ("state", OneOf("state")),
            ("isQuotation", Flag("isQuotation")),
            ("search", Search(&["name", "productNames"])),
        ],
    },
    Resource {
        name: "saleorderlines",
        path: "saleorderlines",
        template: tpl!("saleorderlines"),
        default_limit: 20,
        echo_max: false,
        sort: Sort::Desc("date"),
        window: Some(Window {
            from: "dateFrom",
            to: "dateTo",
            alias: Some(("dateOrderFrom", "dateOrderTo")),
            field: "date",
            paired: false,
        }),
        hidden: &["companyId"],
        filters: &[
            ("companyId", Eq("companyId")),
            ("partnerId", Eq("orderPartnerId")),
            ("orderId", Eq("orderId")),
            ("productId", Eq("productId")),
            ("employeeId", Eq("employeeId")),
            ("state", OneOf("state")),
            ("excludeRewardGlobalDiscount", Exclude("isRewardLine")),
            ("search", Search(&["name", "diagnostic"])),
        ],
    },
    Resource {
        name: "dotkhams",
        path: "dotkhams",
        template: tpl!("dotkhams"),
        default_limit: 20,
        echo_max: false,
        sort: Sort::CreatedDesc,
        window: Some(Window { from: "dateFrom", to: "dateTo", alias: None, field: "date", paired: false }),
        hidden: &["companyId", "appointmentId"],
        filters: &[
            ("companyId", Eq("companyId")),
            ("partnerId", Eq("partnerId")),
            ("doctorId", Eq("doctorId")),
            ("saleOrderId", Eq("saleOrderId")),
            ("appointmentId", Eq("appointmentId")),
            ("state", OneOf("state")),
            ("search", Search(&["name", "reason"])),
        ],
    },
    Resource {
        name: "dotkhamsteps",
        path: "dotkhamsteps",
        template: tpl!("dotkhamsteps"),
        default_limit: 0,
        echo_max: false,
        sort: Sort::CreatedAsc,
        window: None,
        hidden: &["saleOrderId", "productId"],
        filters: NO_FILTERS,
    },
    Resource {
        name: "accountpayments",
        path: "accountpayments",
        template: tpl!("accountpayments"),
        default_limit: 20,
        echo_max: false,
        sort: Sort::CreatedDesc,
        window: Some(Window {
            from: "paymentDateFrom",
            to: "paymentDateTo",
            alias: None,
            field: "paymentDate",
            paired: false,
        }),
        hidden: &["partnerId", "companyId", "journalId", "saleOrderId"],
        filters: &[
            ("partnerId", Eq("partnerId")),
            ("companyId", Eq("companyId")),
            ("partnerType", Eq("partnerType")),
            ("paymentType", Eq("paymentType")),
            ("state", OneOf("state")),
            ("saleOrderId", Eq("saleOrderId")),
            ("search", Search(&["name", "communication"])),
        ],
    },
    Resource {
        name: "saleorderpayments",
        path: "saleorderpayments",
        template: tpl!("saleorderpayments"),
        default_limit: 20,
        echo_max: false,
        sort: Sort::CreatedDesc,
        window: None,
        hidden: &["companyId", "partnerId"],
        filters: &[("saleOrderId", Eq("orderId")), ("companyId", Eq("companyId"))],
    },
    Resource {
        name: "stockpickings",
        path: "stockpickings",
        template: tpl!("stockpickings"),
        default_limit: 20,
        echo_max: false,
        sort: Sort::CreatedDesc,
        window: Some(Window { from: "dateFrom", to: "dateTo", alias: None, field: "date", paired: false }),
        hidden: &["type"],
        filters: &[("type", Eq("type")), ("companyId", Eq("companyId")), ("search", Search(&["name"]))],
    },
    Resource {
        name: "stockmoves",
        path: "stockmoves",
        template: tpl!("stockmoves"),
        default_limit: 20,
        echo_max: false,
        sort: Sort::CreatedDesc,
        window: None,
        hidden: &["companyId"],
        filters: &[("pickingId", Eq("pickingId")), ("productId", Eq("productId")), ("companyId", Eq("companyId"))],
    },
];

/// The resource of a data set name.
pub(crate) fn by_name(name: &str) -> Option<&'static Resource> {
    RESOURCES.iter().find(|r| r.name == name)
}

/// The resource served at a lowercase list path.
pub(crate) fn by_path(path: &str) -> Option<&'static Resource> {
    RESOURCES.iter().find(|r| r.path == path)
}
