//! The Open Dental data generator: a practice with families, recurring patients,
//! appointments with procedures and real CDT codes, treatment plans, insurance with
//! benefits, claims, payments with splits, adjustments, fee schedules, referrals and
//! communications. Deterministic for a seed.

use std::collections::BTreeMap;

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, Timelike};

use crate::Scale;
use crate::rng::Rng;
use crate::rows::{Row, Table};

/// "Not set", as Open Dental writes dates.
pub(crate) fn no_date() -> NaiveDate {
    NaiveDate::from_ymd_opt(1, 1, 1).unwrap_or_default()
}

/// "Not set", as Open Dental writes date-times.
pub(crate) fn no_datetime() -> NaiveDateTime {
    no_date().and_hms_opt(0, 0, 0).unwrap_or_default()
}

/// Money as Open Dental sends `ProcFee`/`PayAmt`: a numeric string.
pub(crate) fn money_text(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    format!("{sign}{}.{:02}", cents.abs() / 100, cents.abs() % 100)
}

/// Money as a JSON number.
pub(crate) fn money(cents: i64) -> f64 {
    cents as f64 / 100.0
}

/// A CDT code: (code, description, abbreviation, category, coverage category, fee in cents,
/// minutes, treat area).
type CodeSpec = (&'static str, &'static str, &'static str, &'static str, &'static str, i64, i64, &'static str);

/// Real CDT codes.
pub(crate) const CODES: &[CodeSpec] = &[
    (
        "D0120",
        "periodic oral evaluation - established patient",
        "PerEx",
        "Exams & Xrays",
        "Diagnostic",
        6500,
        10,
        "Mouth",
    ),
    ("D0140", "limited oral evaluation - problem focused", "LimEx", "Exams & Xrays", "Diagnostic", 8500, 15, "Mouth"),
    (
        "D0150",
        "comprehensive oral evaluation - new or established patient",
        "CompEx",
        "Exams & Xrays",
        "Diagnostic",
        11000,
        20,
        "Mouth",
    ),
    (
        "D0210",
        "intraoral - comprehensive series of radiographic images",
        "FMX",
        "Exams & Xrays",
        "X-Ray",
        15000,
        20,
        "Mouth",
    ),
    ("D0220", "intraoral - periapical first radiographic image", "PA", "Exams & Xrays", "X-Ray", 3500, 5, "Tooth"),
    ("D0274", "bitewings - four radiographic images", "4BW", "Exams & Xrays", "X-Ray", 7000, 10, "Mouth"),
    ("D0330", "panoramic radiographic image", "Pano", "Exams & Xrays", "X-Ray", 12000, 10, "Mouth"),
    ("D1110", "prophylaxis - adult", "Pro", "Cleanings", "Preventive", 11000, 40, "Mouth"),
    ("D1120", "prophylaxis - child", "ChPro", "Cleanings", "Preventive", 8000, 30, "Mouth"),
    ("D1206", "topical application of fluoride varnish", "FlVarn", "Cleanings", "Preventive", 4500, 5, "Mouth"),
    ("D1351", "sealant - per tooth", "Seal", "Cleanings", "Preventive", 5500, 10, "Tooth"),
    ("D2140", "amalgam - one surface, primary or permanent", "A1", "Fillings", "Restorative", 14000, 30, "Surf"),
    ("D2150", "amalgam - two surfaces, primary or permanent", "A2", "Fillings", "Restorative", 17500, 40, "Surf"),
    ("D2330", "resin-based composite - one surface, anterior", "C1", "Fillings", "Restorative", 15500, 30, "Surf"),
    ("D2331", "resin-based composite - two surfaces, anterior", "C2", "Fillings", "Restorative", 19000, 40, "Surf"),
    ("D2391", "resin-based composite - one surface, posterior", "C1(P)", "Fillings", "Restorative", 17000, 30, "Surf"),
    ("D2392", "resin-based composite - two surfaces, posterior", "C2(P)", "Fillings", "Restorative", 21500, 40, "Surf"),
    (
        "D2393",
        "resin-based composite - three surfaces, posterior",
        "C3(P)",
        "Fillings",
        "Restorative",
        26000,
        50,
        "Surf",
    ),
    ("D2740", "crown - porcelain/ceramic", "CrPorc", "Crowns", "Crowns", 120000, 90, "Tooth"),
    ("D2750", "crown - porcelain fused to high noble metal", "PFM", "Crowns", "Crowns", 115000, 90, "Tooth"),
    ("D2950", "core buildup, including any pins when required", "BU", "Crowns", "Crowns", 28000, 30, "Tooth"),
    ("D3310", "endodontic therapy, anterior tooth", "RCTAnt", "Endo", "Endo", 85000, 90, "Tooth"),
    ("D3330", "endodontic therapy, molar tooth", "RCTMol", "Endo", "Endo", 125000, 120, "Tooth"),
    (
        "D4341",
        "periodontal scaling and root planing - four or more teeth per quadrant",
        "SRP4",
        "Perio",
        "Perio",
        25000,
        60,
        "Quad",
    ),
    ("D4910", "periodontal maintenance", "PerMaint", "Perio", "Perio", 15500, 50, "Mouth"),
    ("D5110", "complete denture - maxillary", "CDMax", "Prosth", "Prosthodontics", 180000, 60, "Arch"),
    (
        "D5213",
        "maxillary partial denture - cast metal framework",
        "PDMax",
        "Prosth",
        "Prosthodontics",
        175000,
        60,
        "Arch",
    ),
    (
        "D6010",
        "surgical placement of implant body: endosteal implant",
        "Impl",
        "Implants",
        "Prosthodontics",
        220000,
        90,
        "Tooth",
    ),
    ("D7140", "extraction, erupted tooth or exposed root", "Ext", "Oral Surgery", "OralSurgery", 19000, 30, "Tooth"),
    (
        "D7210",
        "extraction, erupted tooth requiring removal of bone",
        "SurgExt",
        "Oral Surgery",
        "OralSurgery",
        32000,
        45,
        "Tooth",
    ),
    (
        "D8080",
        "comprehensive orthodontic treatment of the adolescent dentition",
        "CompOrtho",
        "Ortho",
        "Ortho",
        550000,
        60,
        "Mouth",
    ),
    ("D9110", "palliative treatment of dental pain - per visit", "Palliative", "Misc", "Diagnostic", 9000, 20, "Mouth"),
    ("D9986", "missed appointment", "Missed", "Misc", "None", 0, 0, "Mouth"),
    ("D9987", "cancelled appointment", "Cancelled", "Misc", "None", 0, 0, "Mouth"),
];

const COVERAGE: &[(&str, i64)] = &[
    ("Diagnostic", 100),
    ("X-Ray", 100),
    ("Preventive", 100),
    ("Restorative", 80),
    ("Endo", 80),
    ("Perio", 80),
    ("OralSurgery", 80),
    ("Crowns", 50),
    ("Prosthodontics", 50),
    ("Ortho", 50),
];

const FIRST: &[&str] = &[
    "James",
    "Mary",
    "Robert",
    "Patricia",
    "John",
    "Jennifer",
    "Michael",
    "Linda",
    "David",
    "Elizabeth",
    "William",
    "Barbara",
    "Richard",
    "Susan",
    "Joseph",
    "Jessica",
    "Thomas",
    "Sarah",
    "Carlos",
    "Karen",
    "Daniel",
    "Lisa",
    "Matthew",
    "Nancy",
    "Anthony",
    "Betty",
    "Mark",
    "Sandra",
    "Steven",
    "Ashley",
    "Paul",
    "Emily",
    "Andrew",
    "Maria",
    "Kevin",
    "Mei",
];
const LAST: &[&str] = &[
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Garcia",
    "Miller",
    "Davis",
    "Rodriguez",
    "Martinez",
    "Hernandez",
    "Lopez",
    "Gonzalez",
    "Wilson",
    "Anderson",
    "Thomas",
    "Taylor",
    "Moore",
    "Jackson",
    "Martin",
    "Lee",
    "Perez",
    "Thompson",
    "White",
    "Harris",
    "Sanchez",
    "Clark",
    "Ramirez",
    "Lewis",
    "Robinson",
    "Walker",
    "Young",
    "Allen",
    "King",
    "Nguyen",
];
const CITIES: &[(&str, &str, &str)] = &[
    ("Portland", "OR", "97201"),
    ("Beaverton", "OR", "97005"),
    ("Salem", "OR", "97301"),
    ("Vancouver", "WA", "98660"),
];
const CARRIERS: &[&str] = &[
    "Delta Dental",
    "MetLife",
    "Cigna Dental",
    "Aetna Dental",
    "Guardian",
    "United Concordia",
    "Humana Dental",
    "Principal Financial",
    "Ameritas",
    "Sun Life",
    "Blue Cross Dental",
    "Lincoln Financial",
];

/// Volumes of one scale.
struct Volumes {
    patients: usize,
    years: i64,
    clinics: i64,
    dentists: i64,
    hygienists: i64,
    carriers: usize,
    plans: usize,
}

fn volumes(scale: Scale) -> Volumes {
    match scale {
        Scale::Small => {
            Volumes { patients: 150, years: 1, clinics: 1, dentists: 3, hygienists: 2, carriers: 4, plans: 6 }
        }
        Scale::Clinic | Scale::Tdental => {
            Volumes { patients: 10_000, years: 5, clinics: 3, dentists: 8, hygienists: 5, carriers: 12, plans: 40 }
        }
    }
}

/// Every table of a generated office, by resource name.
pub(crate) type Tables = BTreeMap<&'static str, Table<i64>>;

struct Builder {
    tables: Tables,
    next: BTreeMap<&'static str, i64>,
}

impl Builder {
    fn add(&mut self, resource: &'static str, pk_field: &'static str, row: Row) -> i64 {
        let pk = self.next.entry(resource).or_insert(0);
        *pk += 1;
        let id = *pk;
        self.tables.entry(resource).or_default().rows.insert(id, row.with(pk_field, id));
        id
    }
}

fn stamp(at: NaiveDateTime) -> NaiveDateTime {
    at.with_nanosecond(0).unwrap_or(at)
}

/// Generates an office's data as of `now` (office local time).
pub(crate) fn generate(scale: Scale, seed: u64, now: NaiveDateTime) -> (Tables, BTreeMap<&'static str, i64>) {
    let v = volumes(scale);
    let mut b = Builder { tables: Tables::new(), next: BTreeMap::new() };
    let mut rng = Rng::new(seed, "opendental");
    let today = now.date();
    let start = today - Duration::days(365 * v.years);
    let setup_stamp = stamp(start.and_hms_opt(8, 0, 0).unwrap_or(now));

    // Configuration.
    let mut clinics = Vec::new();
    for i in 0..v.clinics {
        let (city, state, zip) = CITIES[i as usize % CITIES.len()];
        clinics.push(
            b.add(
                "clinics",
                "ClinicNum",
                Row::new()
                    .with("Description", format!("{city} Dental"))
                    .with("Abbr", city.chars().take(4).collect::<String>().to_uppercase())
                    .with("Address", format!("{} Main St", 100 + i * 10))
                    .with("City", city)
                    .with("State", state)
                    .with("Zip", zip)
                    .with("Phone", format!("503555{:04}", 100 + i))
                    .with("IsHidden", false)
                    .with("ItemOrder", i),
            ),
        );
    }
    let def = |b: &mut Builder, cat: i64, cat_name: &str, name: &str, value: &str| {
        b.add(
            "definitions",
            "DefNum",
            Row::new()
                .with("ItemName", name)
                .with("ItemValue", value)
                .with("Category", cat)
                .with("category", cat_name)
                .with("isHidden", false),
        )
    };
    let adj_types: Vec<(i64, bool, &str)> =
        [("Sales Tax", "+"), ("Professional Courtesy", "-"), ("Senior Discount", "-"), ("Finance Charge", "+")]
            .iter()
            .map(|(n, s)| (def(&mut b, 1, "AdjTypes", n, s), *s == "+", *n))
            .collect();
    let confirmed: Vec<(i64, &str)> = ["Not Called", "Unconfirmed", "Left Msg", "Confirmed", "Arrived"]
        .iter()
        .map(|n| (def(&mut b, 2, "ApptConfirmed", n, ""), *n))
        .collect();
    def(&mut b, 4, "BillingTypes", "Standard Account", "");
    let pay_types: Vec<(i64, &str)> = ["Check", "Cash", "Credit Card", "Care Credit"]
        .iter()
        .map(|n| (def(&mut b, 10, "PaymentTypes", n, ""), *n))
        .collect();
    let mut proc_cats: BTreeMap<&str, i64> = BTreeMap::new();
    for c in CODES {
        if !proc_cats.contains_key(c.3) {
            let id = def(&mut b, 11, "ProcCodeCats", c.3, "");
            proc_cats.insert(c.3, id);
        }
    }
    let comm_types: Vec<(i64, &str)> = ["Appointment Related", "Insurance", "Financial", "Recall", "Misc"]
        .iter()
        .map(|n| (def(&mut b, 27, "CommLogTypes", n, ""), *n))
        .collect();
    let specialty = def(&mut b, 35, "ProviderSpecialties", "General", "");
    def(&mut b, 35, "ProviderSpecialties", "Endodontics", "");

    let mut covcats: BTreeMap<&str, i64> = BTreeMap::new();
    for (i, (name, pct)) in COVERAGE.iter().enumerate() {
        let id = b.add(
            "covcats",
            "CovCatNum",
            Row::new()
                .with("Description", *name)
                .with("DefaultPercent", *pct)
                .with("CovOrder", i as i64)
                .with("IsHidden", false)
                .with("EbenefitCat", *name),
        );
        covcats.insert(name, id);
    }

    let fee_scheds: Vec<i64> =
        [("Standard", "Normal"), ("PPO Delta", "Normal"), ("PPO MetLife", "Normal"), ("Cash Discount", "Normal")]
            .iter()
            .map(|(name, ty)| {
                b.add(
                    "feescheds",
                    "FeeSchedNum",
                    Row::new()
                        .with("Description", *name)
                        .with("FeeSchedType", *ty)
                        .with("ItemOrder", 0)
                        .with("IsHidden", false)
                        .with("IsGlobal", true)
                        .with("SecDateTEdit", setup_stamp),
                )
            })
            .collect();

    let mut providers = Vec::new();
    let mut hygienists = Vec::new();
    for i in 0..(v.dentists + v.hygienists) {
        let hyg = i >= v.dentists;
        let first = FIRST[rng.index(FIRST.len())];
        let last = LAST[rng.index(LAST.len())];
        let abbr = if hyg { format!("HYG{}", i - v.dentists + 1) } else { format!("DOC{}", i + 1) };
        let id = b.add(
            "providers",
            "ProvNum",
            Row::new()
                .with("Abbr", abbr)
                .with("LName", last)
                .with("FName", first)
                .with("MI", "")
                .with("Suffix", if hyg { "RDH" } else { "DDS" })
                .with("FeeSched", fee_scheds[0])
                .with("Specialty", specialty)
                .with("IsSecondary", hyg)
                .with("IsHidden", false)
                .with("ProvStatus", "Active")
                .with("DateTStamp", setup_stamp),
        );
        if hyg { hygienists.push(id) } else { providers.push(id) }
    }

    let mut ops = Vec::new();
    for (ci, clinic) in clinics.iter().enumerate() {
        for j in 0..5_i64 {
            let hyg = j >= 3;
            ops.push((
                b.add(
                    "operatories",
                    "OperatoryNum",
                    Row::new()
                        .with("OpName", format!("{} Op {}", if hyg { "Hyg" } else { "Dr" }, j + 1))
                        .with("Abbrev", format!("{}{}", if hyg { "H" } else { "D" }, ci as i64 * 10 + j + 1))
                        .with("ItemOrder", j)
                        .with("IsHidden", false)
                        .with("ProvDentist", providers[(ci + j as usize) % providers.len()])
                        .with("ProvHygienist", if hyg { hygienists[j as usize % hygienists.len()] } else { 0 })
                        .with("IsHygiene", hyg)
                        .with("ClinicNum", *clinic)
                        .with("SetProspective", false)
                        .with("IsWebSched", false),
                ),
                *clinic,
                hyg,
            ));
        }
    }

    let mut codes = Vec::new();
    for c in CODES {
        let id = b.add(
            "procedurecodes",
            "CodeNum",
            Row::new()
                .with("ProcCode", c.0)
                .with("Descript", c.1)
                .with("AbbrDesc", c.2)
                .with("ProcTime", "/".repeat((c.6 / 5).max(1) as usize))
                .with("ProcCat", proc_cats[c.3])
                .with("procCat", c.3)
                .with("TreatArea", c.7)
                .with("DateTStamp", setup_stamp),
        );
        codes.push((id, *c));
    }
    for (fi, fs) in fee_scheds.iter().enumerate() {
        for (code_num, c) in &codes {
            let pct = [100, 80, 85, 90][fi];
            b.add(
                "fees",
                "FeeNum",
                Row::new()
                    .with("Amount", money(c.5 * pct / 100))
                    .with("FeeSched", *fs)
                    .with("CodeNum", *code_num)
                    .with("ClinicNum", 0)
                    .with("ProvNum", 0)
                    .with("SecDateEntry", start)
                    .with("SecDateTEdit", setup_stamp),
            );
        }
    }

    let mut referrals = Vec::new();
    for i in 0..(3 + v.patients / 200) {
        let doctor = i % 3 != 0;
        referrals.push(
            b.add(
                "referrals",
                "ReferralNum",
                Row::new()
                    .with("LName", LAST[rng.index(LAST.len())])
                    .with("FName", FIRST[rng.index(FIRST.len())])
                    .with("Specialty", specialty)
                    .with("specialty", "General")
                    .with("Telephone", format!("503555{:04}", rng.range(1000, 9999)))
                    .with("EMail", "")
                    .with("IsDoctor", doctor)
                    .with("IsHidden", false)
                    .with("NotPerson", false)
                    .with("Title", if doctor { "DDS" } else { "" })
                    .with("SSN", "")
                    .with("UsingTIN", false)
                    .with("Address", format!("{} Medical Plaza", rng.range(100, 999)))
                    .with("City", "Portland")
                    .with("ST", "OR")
                    .with("Zip", "97205")
                    .with("Note", "")
                    .with("DisplayNote", "")
                    .with("DateTStamp", setup_stamp),
            ),
        );
    }

    // Insurance.
    let mut carriers = Vec::new();
    for name in CARRIERS.iter().take(v.carriers) {
        carriers.push(
            b.add(
                "carriers",
                "CarrierNum",
                Row::new()
                    .with("CarrierName", *name)
                    .with("Address", "PO Box 1000")
                    .with("City", "Sacramento")
                    .with("State", "CA")
                    .with("Zip", "95899")
                    .with("Phone", format!("800555{:04}", rng.range(1000, 9999)))
                    .with("ElectID", format!("{:05}", rng.range(10000, 99999)))
                    .with("IsHidden", false),
            ),
        );
    }
    let mut plans = Vec::new();
    for i in 0..v.plans {
        let carrier = carriers[i % carriers.len()];
        let plan = b.add(
            "insplans",
            "PlanNum",
            Row::new()
                .with("GroupName", format!("{} Employees", LAST[i % LAST.len()]))
                .with("GroupNum", format!("G{:06}", rng.range(100000, 999999)))
                .with("PlanNote", "")
                .with("FeeSched", fee_scheds[1 + i % 2])
                .with("PlanType", "")
                .with("CarrierNum", carrier)
                .with("MonthRenew", if i % 4 == 0 { 7 } else { 0 })
                .with("SecDateEntry", start)
                .with("IsHidden", false)
                .with("SecDateTEdit", setup_stamp),
        );
        plans.push(plan);
        // Benefits: coverage by category, deductible, annual maximum, frequency limits.
        let benefit = |b: &mut Builder, row: Row| {
            b.add(
                "benefits",
                "BenefitNum",
                row.with("PlanNum", plan)
                    .with("PatPlanNum", 0)
                    .with("CodeNum", 0)
                    .with("procCode", "")
                    .with("TreatArea", "None")
                    .with("SecDateTEntry", setup_stamp)
                    .with("SecDateTEdit", setup_stamp),
            );
        };
        for (cat, pct) in COVERAGE {
            benefit(
                &mut b,
                Row::new()
                    .with("CovCatNum", covcats[cat])
                    .with("BenefitType", "CoInsurance")
                    .with("Percent", *pct)
                    .with("MonetaryAmt", -1.0)
                    .with("TimePeriod", "CalendarYear")
                    .with("QuantityQualifier", "None")
                    .with("Quantity", 0)
                    .with("CoverageLevel", "None"),
            );
        }
        benefit(
            &mut b,
            Row::new()
                .with("CovCatNum", 0)
                .with("BenefitType", "Deductible")
                .with("Percent", -1)
                .with("MonetaryAmt", 50.0)
                .with("TimePeriod", "CalendarYear")
                .with("QuantityQualifier", "None")
                .with("Quantity", 0)
                .with("CoverageLevel", "Individual"),
        );
        benefit(
            &mut b,
            Row::new()
                .with("CovCatNum", 0)
                .with("BenefitType", "Limitations")
                .with("Percent", -1)
                .with("MonetaryAmt", [1000.0, 1500.0, 2000.0][i % 3])
                .with("TimePeriod", "CalendarYear")
                .with("QuantityQualifier", "None")
                .with("Quantity", 0)
                .with("CoverageLevel", "Individual"),
        );
        benefit(
            &mut b,
            Row::new()
                .with("CovCatNum", covcats["Preventive"])
                .with("BenefitType", "Limitations")
                .with("Percent", -1)
                .with("MonetaryAmt", -1.0)
                .with("TimePeriod", "None")
                .with("QuantityQualifier", "NumberOfServices")
                .with("Quantity", 2)
                .with("CoverageLevel", "None"),
        );
    }

    // Patients in families.
    let mut patients: Vec<(i64, i64, NaiveDate, i64)> = Vec::new(); // (PatNum, guarantor, first visit, clinic)
    let mut made = 0;
    while made < v.patients {
        let size = [1, 1, 2, 2, 3, 4, 5][rng.index(7)].min(v.patients - made);
        let last = LAST[rng.index(LAST.len())];
        let (city, state, zip) = CITIES[rng.index(CITIES.len())];
        let address = format!("{} {} Ave", rng.range(100, 9999), LAST[rng.index(LAST.len())]);
        let phone = format!("(503)555-{:04}", rng.range(0, 9999));
        let clinic = clinics[rng.index(clinics.len())];
        let prov = providers[rng.index(providers.len())];
        let mut guarantor = 0;
        for m in 0..size {
            let child = m >= 2;
            let born = if child {
                today - Duration::days(rng.range(4 * 365, 17 * 365))
            } else {
                today - Duration::days(rng.range(20 * 365, 80 * 365))
            };
            let first_visit = start + Duration::days(rng.range(0, (today - start).num_days().max(1)));
            let status = if rng.chance(0.04) {
                "Inactive"
            } else if rng.chance(0.01) {
                "Archived"
            } else {
                "Patient"
            };
            let gender = if rng.chance(0.5) { "Female" } else { "Male" };
            let registered = stamp(first_visit.and_hms_opt(9, 0, 0).unwrap_or(now));
            let id = b.add(
                "patients",
                "PatNum",
                Row::new()
                    .with("LName", last)
                    .with("FName", FIRST[rng.index(FIRST.len())])
                    .with("MiddleI", "")
                    .with("Preferred", "")
                    .with("PatStatus", status)
                    .with("Gender", gender)
                    .with(
                        "Position",
                        if child {
                            "Child"
                        } else if size > 1 {
                            "Married"
                        } else {
                            "Single"
                        },
                    )
                    .with("Birthdate", born)
                    .with(
                        "SSN",
                        if rng.chance(0.3) {
                            format!("{:09}", rng.range(100_000_000, 899_999_999))
                        } else {
                            String::new()
                        },
                    )
                    .with("Address", address.clone())
                    .with("Address2", "")
                    .with("City", city)
                    .with("State", state)
                    .with("Zip", zip)
                    .with("HmPhone", phone.clone())
                    .with("WkPhone", "")
                    .with("WirelessPhone", format!("(503)555-{:04}", rng.range(0, 9999)))
                    .with("ImageFolder", format!("{last}{}", made + m))
                    .with("FamFinUrgNote", "")
                    .with("Language", "")
                    .with("MedicaidID", "")
                    .with(
                        "Email",
                        if rng.chance(0.6) {
                            format!("{}{}@example.com", last.to_lowercase(), made + m)
                        } else {
                            String::new()
                        },
                    )
                    .with("PriProv", prov)
                    .with("priProvAbbr", "")
                    .with("SecProv", 0)
                    .with("FeeSched", 0)
                    .with("BillingType", "Standard Account")
                    .with("ChartNumber", format!("{}", 10000 + made + m))
                    .with("EstBalance", 0.0)
                    .with("BalTotal", 0.0)
                    .with("DateFirstVisit", first_visit)
                    .with("ClinicNum", clinic)
                    .with("DateTStamp", registered)
                    .with("SecDateEntry", first_visit),
            );
            if m == 0 {
                guarantor = id;
            }
            if let Some(row) = b.tables.get_mut("patients").and_then(|t| t.rows.get_mut(&id)) {
                row.set("Guarantor", guarantor);
            }
            patients.push((id, guarantor, first_visit, clinic));
        }
        made += size;
    }

    // Referrals of some patients.
    for (pat, _, first_visit, _) in &patients {
        if !rng.chance(0.15) {
            continue;
        }
        b.add(
            "refattaches",
            "RefAttachNum",
            Row::new()
                .with("ReferralNum", *rng.pick(&referrals))
                .with("referralName", "")
                .with("PatNum", *pat)
                .with("ItemOrder", 0)
                .with("RefDate", *first_visit)
                .with("ReferralType", "RefFrom")
                .with("RefToStatus", "None")
                .with("Note", "")
                .with("IsTransitionOfCare", false)
                .with("ProcNum", 0)
                .with("DateProcComplete", no_date())
                .with("ProvNum", 0)
                .with("DateTStamp", stamp(first_visit.and_hms_opt(9, 5, 0).unwrap_or(now))),
        );
    }

    // Insurance: subscribers are guarantors; their families are covered.
    let mut coverage: BTreeMap<i64, Vec<(i64, i64, i64)>> = BTreeMap::new(); // guarantor → (InsSubNum, PlanNum, ordinal)
    let guarantors: Vec<i64> = patients.iter().filter(|p| p.0 == p.1).map(|p| p.0).collect();
    for g in &guarantors {
        if !rng.chance(0.65) {
            continue;
        }
        let n_plans = if rng.chance(0.15) { 2 } else { 1 };
        for ordinal in 1..=n_plans {
            let plan = *rng.pick(&plans);
            let sub = b.add(
                "inssubs",
                "InsSubNum",
                Row::new()
                    .with("PlanNum", plan)
                    .with("Subscriber", *g)
                    .with("SubscriberID", format!("{:09}", rng.range(100_000_000, 999_999_999)))
                    .with("DateEffective", start)
                    .with("DateTerm", no_date())
                    .with("BenefitNotes", "")
                    .with("ReleaseInfo", true)
                    .with("AssignBen", true)
                    .with("SubscNote", "")
                    .with("SecDateTEdit", setup_stamp),
            );
            coverage.entry(*g).or_default().push((sub, plan, ordinal));
        }
    }
    let mut patient_plans: BTreeMap<i64, Vec<(i64, i64, i64)>> = BTreeMap::new(); // PatNum → (PatPlanNum, InsSubNum, PlanNum)
    for (pat, guar, _, _) in &patients {
        for (sub, plan, ordinal) in coverage.get(guar).cloned().unwrap_or_default() {
            let pp = b.add(
                "patplans",
                "PatPlanNum",
                Row::new()
                    .with("PatNum", *pat)
                    .with("Ordinal", ordinal)
                    .with("IsPending", false)
                    .with("Relationship", if pat == guar { "Self" } else { "Spouse" })
                    .with("PatID", "")
                    .with("InsSubNum", sub)
                    .with("OrthoAutoFeeBilledOverride", -1.0)
                    .with("OrthoAutoNextClaimDate", no_date())
                    .with("SecDateTEntry", setup_stamp)
                    .with("SecDateTEdit", setup_stamp),
            );
            patient_plans.entry(*pat).or_default().push((pp, sub, plan));
        }
    }

    // Appointments, procedures, claims, payments, adjustments, commlogs, treatment plans.
    let preventive: Vec<usize> =
        (0..codes.len()).filter(|i| matches!(codes[*i].1.4, "Diagnostic" | "X-Ray" | "Preventive")).collect();
    let treatment: Vec<usize> =
        (0..codes.len()).filter(|i| !matches!(codes[*i].1.4, "Diagnostic" | "X-Ray" | "Preventive" | "None")).collect();
    for (pat, guar, first_visit, clinic) in &patients {
        let clinic_ops: Vec<&(i64, i64, bool)> = ops.iter().filter(|o| o.1 == *clinic).collect();
        let prov = *rng.pick(&providers);
        let plans_of = patient_plans.get(pat).cloned().unwrap_or_default();
        // A visit roughly every six months from the first visit, plus one upcoming.
        let mut visit = *first_visit;
        let mut visits = Vec::new();
        while visit <= today + Duration::days(60) {
            visits.push(visit);
            visit += Duration::days(rng.range(150, 220));
        }
        let mut balance_procs = Vec::new();
        for (vi, day) in visits.iter().enumerate() {
            let op = rng.pick(&clinic_ops);
            let hour = rng.range(8, 17) as u32;
            let minute = [0, 15, 30, 45][rng.index(4)];
            let at = day.and_hms_opt(hour, minute, 0).unwrap_or(now);
            // Anything not yet over is still scheduled; no stamp is later than the clock.
            let future = at + Duration::hours(3) > now;
            let status = if future {
                "Scheduled"
            } else if rng.chance(0.05) {
                "Broken"
            } else {
                "Complete"
            };
            let mut chosen: Vec<usize> = vec![preventive[rng.index(preventive.len())]];
            if rng.chance(0.7) {
                chosen.push(preventive[rng.index(preventive.len())]);
            }
            if rng.chance(0.3) {
                chosen.push(treatment[rng.index(treatment.len())]);
            }
            chosen.sort_unstable();
            chosen.dedup();
            let minutes: i64 = chosen.iter().map(|i| codes[*i].1.6).sum::<i64>().max(20);
            let descript: Vec<&str> = chosen.iter().map(|i| codes[*i].1.2).collect();
            let (confirm, confirm_name) = if future { confirmed[rng.index(3)] } else { confirmed[3] };
            let entered = stamp(at - Duration::days(rng.range(7, 60)));
            let edited =
                if future { stamp(now - Duration::days(rng.range(0, 30))) } else { stamp(at + Duration::hours(2)) }
                    .min(now);
            let entered = entered.min(edited);
            let hyg = op.2;
            let apt = b.add(
                "appointments",
                "AptNum",
                Row::new()
                    .with("PatNum", *pat)
                    .with("AptStatus", status)
                    .with("Pattern", format!("/{}/", "X".repeat((minutes / 5 - 2).max(1) as usize)))
                    .with("Confirmed", confirm)
                    .with("confirmed", confirm_name)
                    .with("TimeLocked", false)
                    .with("Op", op.0)
                    .with("Note", "")
                    .with("ProvNum", prov)
                    .with("provAbbr", "")
                    .with("ProvHyg", if hyg { *rng.pick(&hygienists) } else { 0 })
                    .with("AptDateTime", at)
                    .with("NextAptNum", 0)
                    .with("UnschedStatus", 0)
                    .with("unschedStatus", "")
                    .with("IsNewPatient", vi == 0)
                    .with("ProcDescript", descript.join(", "))
                    .with("ClinicNum", *clinic)
                    .with("IsHygiene", hyg)
                    .with("DateTStamp", edited)
                    .with(
                        "DateTimeArrived",
                        if status == "Complete" { at - Duration::minutes(5) } else { no_datetime() },
                    )
                    .with("DateTimeSeated", if status == "Complete" { at } else { no_datetime() })
                    .with(
                        "DateTimeDismissed",
                        if status == "Complete" { at + Duration::minutes(minutes) } else { no_datetime() },
                    )
                    .with("InsPlan1", plans_of.first().map_or(0, |p| p.2))
                    .with("InsPlan2", plans_of.get(1).map_or(0, |p| p.2))
                    .with("DateTimeAskedToArrive", no_datetime())
                    .with("colorOverride", "0,0,0")
                    .with("AppointmentTypeNum", 0)
                    .with("SecUserNumEntry", 1)
                    .with("SecDateTEntry", entered)
                    .with("Priority", "Normal"),
            );
            if status == "Broken" {
                continue;
            }
            for ci in &chosen {
                let (code_num, c) = codes[*ci];
                let tooth = match c.7 {
                    "Tooth" | "Surf" => rng.range(1, 33).to_string(),
                    _ => String::new(),
                };
                let surf = if c.7 == "Surf" { ["M", "O", "D", "MO", "DO", "MOD", "B", "L"][rng.index(8)] } else { "" };
                let proc_status = if future { "TP" } else { "C" };
                let proc = b.add(
                    "procedurelogs",
                    "ProcNum",
                    Row::new()
                        .with("PatNum", *pat)
                        .with("AptNum", apt)
                        .with("ProcDate", *day)
                        .with("ProcFee", money_text(c.5))
                        .with("Surf", surf)
                        .with("ToothNum", tooth)
                        .with("ToothRange", "")
                        .with("Priority", 0)
                        .with("priority", "")
                        .with("ProcStatus", proc_status)
                        .with("ProvNum", if hyg && c.4 == "Preventive" { *rng.pick(&hygienists) } else { prov })
                        .with("provAbbr", "")
                        .with("Dx", 0)
                        .with("dxName", "")
                        .with("PlannedAptNum", 0)
                        .with("PlaceService", "Office")
                        .with("DateEntryC", if future { no_date() } else { *day })
                        .with("ClinicNum", *clinic)
                        .with("CodeNum", code_num)
                        .with("procCode", c.0)
                        .with("descript", c.1)
                        .with("UnitQty", 1)
                        .with("DateTP", entered.date())
                        .with("DateTStamp", edited)
                        .with("Discount", 0.0)
                        .with("SecDateEntry", entered),
                );
                if future {
                    continue;
                }
                balance_procs.push((proc, c.5, *day));
                // Insurance claim for completed procedures of insured patients.
                if let Some((_, sub, plan)) = plans_of.first() {
                    let pct = COVERAGE.iter().find(|(k, _)| *k == c.4).map_or(0, |(_, p)| *p);
                    let est = c.5 * pct / 100;
                    let received = *day + Duration::days(rng.range(14, 45)) <= today;
                    b.add(
                        "claimprocs",
                        "ClaimProcNum",
                        Row::new()
                            .with("ProcNum", proc)
                            .with("ClaimNum", 0)
                            .with("PatNum", *pat)
                            .with("ProvNum", prov)
                            .with("FeeBilled", money(c.5))
                            .with("InsPayEst", money(est))
                            .with("DedApplied", 0.0)
                            .with("Status", if received { "Received" } else { "NotReceived" })
                            .with("InsPayAmt", if received { money(est) } else { 0.0 })
                            .with("Remarks", "")
                            .with("PlanNum", *plan)
                            .with("DateCP", if received { *day + Duration::days(30) } else { no_date() })
                            .with("WriteOff", 0.0)
                            .with("CodeSent", c.0)
                            .with("Percentage", pct)
                            .with("ProcDate", *day)
                            .with("DateEntry", *day)
                            .with("ClinicNum", *clinic)
                            .with("InsSubNum", *sub)
                            .with("SecDateEntry", *day)
                            .with("SecDateTEdit", edited),
                    );
                }
            }
            // One claim per insured completed visit, tying its claimprocs.
            if !future && let Some((_, sub, plan)) = plans_of.first() {
                let fee: i64 = chosen.iter().map(|i| codes[*i].1.5).sum();
                let est: i64 = chosen
                    .iter()
                    .map(|i| {
                        codes[*i].1.5 * COVERAGE.iter().find(|(k, _)| *k == codes[*i].1.4).map_or(0, |(_, p)| *p) / 100
                    })
                    .sum();
                let received = *day + Duration::days(45) <= today;
                let claim = b.add(
                    "claims",
                    "ClaimNum",
                    Row::new()
                        .with("PatNum", *pat)
                        .with("DateService", *day)
                        .with("DateSent", *day + Duration::days(1))
                        .with("ClaimStatus", if received { "R" } else { "S" })
                        .with("DateReceived", if received { *day + Duration::days(30) } else { no_date() })
                        .with("PlanNum", *plan)
                        .with("ProvTreat", prov)
                        .with("ClaimFee", money(fee))
                        .with("InsPayEst", money(est))
                        .with("InsPayAmt", if received { money(est) } else { 0.0 })
                        .with("DedApplied", 0.0)
                        .with("ClaimNote", "")
                        .with("IsOrtho", false)
                        .with("OrthoDate", no_date())
                        .with("OrthoRemainM", 0)
                        .with("OrthoTotalM", 0)
                        .with("CustomTracking", 0)
                        .with("customTracking", "")
                        .with("ReasonUnderPaid", "")
                        .with("PriorAuthorizationNumber", "")
                        .with("ClaimType", "P")
                        .with("ProvBill", prov)
                        .with("PlanNum2", 0)
                        .with("InsSubNum", *sub)
                        .with("InsSubNum2", 0)
                        .with("WriteOff", 0.0)
                        .with("SecDateTEdit", edited),
                );
                let procs_of_visit: Vec<i64> = b.tables["procedurelogs"]
                    .rows
                    .iter()
                    .rev()
                    .take(chosen.len())
                    .filter(|(_, r)| r.int("AptNum") == apt)
                    .map(|(k, _)| *k)
                    .collect();
                if let Some(t) = b.tables.get_mut("claimprocs") {
                    for r in t.rows.values_mut().rev().take(chosen.len()) {
                        if procs_of_visit.contains(&r.int("ProcNum")) {
                            r.set("ClaimNum", claim);
                        }
                    }
                }
            }
        }
        // Payments by the guarantor for the patient's completed work, with splits.
        for (proc, fee, day) in &balance_procs {
            if !rng.chance(0.6) {
                continue;
            }
            let paid_on = *day + Duration::days(rng.range(0, 20));
            if paid_on > today {
                continue;
            }
            let share = if plans_of.is_empty() { *fee } else { fee / 5 };
            if share <= 0 {
                continue;
            }
            let (pay_type, pay_name) = *rng.pick(&pay_types);
            let pay = b.add(
                "payments",
                "PayNum",
                Row::new()
                    .with("PayType", pay_type)
                    .with("payType", pay_name)
                    .with("PayDate", paid_on)
                    .with("PayAmt", money_text(share))
                    .with(
                        "CheckNum",
                        if pay_name == "Check" { rng.range(1000, 9999).to_string() } else { String::new() },
                    )
                    .with("BankBranch", "")
                    .with("PayNote", "")
                    .with("PatNum", *guar)
                    // The API sends this one as a numeric string.
                    .with("ClinicNum", clinic.to_string())
                    .with("DateEntry", paid_on)
                    .with("PaymentSource", "None")
                    .with("ProcessStatus", "OfficeProcessed")
                    .with("RecurringChargeDate", no_date())
                    .with("IsCcCompleted", false)
                    .with("SecDateTEdit", stamp(paid_on.and_hms_opt(12, 0, 0).unwrap_or(now))),
            );
            b.add(
                "paysplits",
                "SplitNum",
                Row::new()
                    .with("SplitAmt", money(share))
                    .with("PatNum", *pat)
                    .with("PayNum", pay)
                    .with("ProvNum", prov)
                    .with("ProcNum", *proc)
                    .with("ClinicNum", *clinic)
                    .with("DatePay", paid_on)
                    .with("DateEntry", paid_on)
                    .with("UnearnedType", 0)
                    .with("AdjNum", 0)
                    .with("PayPlanNum", 0)
                    .with("SecDateTEdit", stamp(paid_on.and_hms_opt(12, 0, 0).unwrap_or(now))),
            );
        }
        if rng.chance(0.08) {
            let (adj_type, positive, adj_name) = *rng.pick(&adj_types);
            let when = *first_visit + Duration::days(rng.range(0, 300));
            if when <= today {
                let amount = rng.range(500, 5000);
                b.add(
                    "adjustments",
                    "AdjNum",
                    Row::new()
                        .with("AdjDate", when)
                        .with("AdjAmt", money(if positive { amount } else { -amount }))
                        .with("PatNum", *pat)
                        .with("AdjType", adj_type)
                        .with("adjType", adj_name)
                        .with("ProvNum", prov)
                        .with("AdjNote", "")
                        .with("ProcDate", when)
                        .with("ProcNum", 0)
                        .with("DateEntry", when)
                        .with("ClinicNum", *clinic)
                        .with("SecDateTEdit", stamp(when.and_hms_opt(16, 0, 0).unwrap_or(now))),
                );
            }
        }
        for _ in 0..rng.range(0, 4) {
            let when = (*first_visit + Duration::days(rng.range(0, (today - *first_visit).num_days().max(1))))
                .and_hms_opt(rng.range(8, 18) as u32, rng.range(0, 60) as u32, 0)
                .unwrap_or(now);
            let (ct, ct_name) = *rng.pick(&comm_types);
            b.add(
                "commlogs",
                "CommlogNum",
                Row::new()
                    .with("PatNum", *pat)
                    .with("CommDateTime", when)
                    .with("CommType", ct.to_string())
                    .with("commType", ct_name)
                    .with(
                        "Note",
                        *rng.pick(&[
                            "Left message to confirm.",
                            "Discussed treatment plan.",
                            "Insurance verified.",
                            "Patient called about billing.",
                        ]),
                    )
                    .with("Mode_", *rng.pick(&["Phone", "Email", "Text", "In Person"]))
                    .with("SentOrReceived", *rng.pick(&["Sent", "Received", "Neither"]))
                    .with("UserNum", 1)
                    .with("DateTStamp", when + Duration::minutes(1))
                    .with("CommSource", "User")
                    .with("ProgramNum", 0)
                    .with("DateTEntry", when)
                    .with("ReferralNum", 0),
            );
        }
        // Treatment plans for some patients with open treatment.
        if rng.chance(0.2) {
            let when = today - Duration::days(rng.range(1, 200));
            let tp = b.add(
                "treatplans",
                "TreatPlanNum",
                Row::new()
                    .with("PatNum", *pat)
                    .with("DateTP", when)
                    .with("Heading", "Active Treatment Plan")
                    .with("Note", "")
                    .with("ResponsParty", 0)
                    .with("DocNum", 0)
                    .with("TPStatus", "Active")
                    .with("SecUserNumEntry", 1)
                    .with("SecDateEntry", when)
                    .with("SecDateTEdit", stamp(when.and_hms_opt(11, 0, 0).unwrap_or(now)))
                    .with("UserNumPresenter", 0)
                    .with("TPType", "Insurance")
                    .with("DateTSigned", no_datetime())
                    .with("DateTPracticeSigned", no_datetime())
                    .with("SignatureText", "")
                    .with("SignaturePracticeText", "")
                    .with("isSigned", false),
            );
            for k in 0..rng.range(1, 4) {
                let (code_num, c) = codes[treatment[rng.index(treatment.len())]];
                let proc = b.add(
                    "procedurelogs",
                    "ProcNum",
                    Row::new()
                        .with("PatNum", *pat)
                        .with("AptNum", 0)
                        .with("ProcDate", when)
                        .with("ProcFee", money_text(c.5))
                        .with("Surf", "")
                        .with("ToothNum", rng.range(1, 33).to_string())
                        .with("ToothRange", "")
                        .with("Priority", 0)
                        .with("priority", "")
                        .with("ProcStatus", "TP")
                        .with("ProvNum", prov)
                        .with("provAbbr", "")
                        .with("ClinicNum", *clinic)
                        .with("CodeNum", code_num)
                        .with("procCode", c.0)
                        .with("descript", c.1)
                        .with("UnitQty", 1)
                        .with("DateTP", when)
                        .with("DateEntryC", no_date())
                        .with("DateTStamp", stamp(when.and_hms_opt(11, 0, 0).unwrap_or(now)))
                        .with("Discount", 0.0)
                        .with("SecDateEntry", stamp(when.and_hms_opt(11, 0, 0).unwrap_or(now))),
                );
                b.add(
                    "treatplanattaches",
                    "TreatPlanAttachNum",
                    Row::new().with("TreatPlanNum", tp).with("ProcNum", proc).with("Priority", 0).with("priority", ""),
                );
                b.add(
                    "proctps",
                    "ProcTPNum",
                    Row::new()
                        .with("TreatPlanNum", tp)
                        .with("PatNum", *pat)
                        .with("ProcNumOrig", proc)
                        .with("ItemOrder", k)
                        .with("Priority", 0)
                        .with("priority", "")
                        .with("ToothNumTP", "")
                        .with("Surf", "")
                        .with("ProcCode", c.0)
                        .with("Descript", c.1)
                        .with("FeeAmt", money(c.5))
                        .with("PriInsAmt", money(c.5 / 2))
                        .with("SecInsAmt", 0.0)
                        .with("PatAmt", money(c.5 - c.5 / 2))
                        .with("Discount", 0.0)
                        .with("Prognosis", "")
                        .with("Dx", "")
                        .with("ProcAbbr", c.2)
                        .with("SecUserNumEntry", 1)
                        .with("SecDateEntry", when)
                        .with("SecDateTEdit", stamp(when.and_hms_opt(11, 0, 0).unwrap_or(now)))
                        .with("FeeAllowed", -1.0)
                        .with("TaxAmt", 0.0)
                        .with("ProvNum", prov)
                        .with("DateTP", when)
                        .with("ClinicNum", *clinic)
                        .with("CatPercUCR", 0.0),
                );
            }
        }
    }
    // Denormalised labels that depend on other rows.
    let prov_abbr: BTreeMap<i64, String> =
        b.tables["providers"].rows.iter().map(|(k, r)| (*k, r.str("Abbr").to_owned())).collect();
    for name in ["appointments", "procedurelogs", "patients"] {
        if let Some(t) = b.tables.get_mut(name) {
            for r in t.rows.values_mut() {
                let key = if name == "patients" { "PriProv" } else { "ProvNum" };
                let label = prov_abbr.get(&r.int(key)).cloned().unwrap_or_default();
                r.set(if name == "patients" { "priProvAbbr" } else { "provAbbr" }, label);
            }
        }
    }
    let _ = today.year();
    (b.tables, b.next)
}
