//! The TDental data generator: a seven-branch chain (the real tenant's branches) with
//! customers from sources and tags, appointments, check-ins, treatment plans with lines
//! and teeth (mostly in free text), visits and their steps, payments split into sale-order
//! payments and account payments, quotations, stock, staff and users. Deterministic for a
//! seed; ids are COMB GUIDs carrying their UTC creation time.

use std::collections::BTreeMap;

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime, Timelike};
use serde_json::{Value, json};

use super::{Journal, Rec, Sets, comb, user_id};
use crate::Scale;
use crate::rng::Rng;
use crate::rows::Row;

/// Rows per data set at one scale.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Volumes {
    pub(crate) customers: usize,
    pub(crate) appointments: usize,
    pub(crate) receipts: usize,
    pub(crate) dotkhams: usize,
    pub(crate) lines: usize,
    pub(crate) orders: usize,
    pub(crate) account_payments: usize,
    pub(crate) order_payments: usize,
    pub(crate) stock_moves: usize,
    pub(crate) products: usize,
    pub(crate) employees: usize,
    pub(crate) quotations: usize,
    pub(crate) users: usize,
    pub(crate) pickings: usize,
    pub(crate) steps: usize,
}

pub(crate) fn volumes(scale: Scale) -> Volumes {
    let small = Volumes {
        customers: 300,
        appointments: 600,
        receipts: 480,
        dotkhams: 400,
        lines: 330,
        orders: 300,
        account_payments: 290,
        order_payments: 260,
        stock_moves: 120,
        products: 60,
        employees: 40,
        quotations: 20,
        users: 12,
        pickings: 10,
        steps: 350,
    };
    match scale {
        Scale::Small => small,
        Scale::Clinic => Volumes {
            customers: small.customers * 10,
            appointments: small.appointments * 10,
            receipts: small.receipts * 10,
            dotkhams: small.dotkhams * 10,
            lines: small.lines * 10,
            orders: small.orders * 10,
            account_payments: small.account_payments * 10,
            order_payments: small.order_payments * 10,
            stock_moves: small.stock_moves * 10,
            products: 443,
            employees: small.employees * 5,
            quotations: small.quotations * 3,
            users: small.users * 5,
            pickings: small.pickings * 5,
            steps: small.steps * 10,
        },
        Scale::Tdental => Volumes {
            customers: 31_701,
            appointments: 212_773,
            receipts: 162_788,
            dotkhams: 83_768,
            lines: 58_053,
            orders: 56_340,
            account_payments: 53_528,
            order_payments: 49_895,
            stock_moves: 1_670,
            products: 443,
            employees: 372,
            quotations: 75,
            users: 70,
            pickings: 58,
            steps: 63_896,
        },
    }
}

/// The real tenant's branches (README §2.9): id, name, phone, address.
const COMPANIES: &[(&str, &str, Option<&str>, &str)] = &[
    ("dde8b85e-e35a-41fa-4a6b-08de107d59ec", "Nha khoa Tấm Dentist", None, ""),
    (
        "c6b4b453-d260-46d4-4fd9-08db24f7ae8e",
        "Tấm Dentist Quận 3",
        Some("0966 080 638"),
        "Phường Võ Thị Sáu, Quận 3, Thành phố Hồ Chí Minh",
    ),
    (
        "b178d5ee-d9ac-477e-088e-08db9a4c4cf4",
        "Tấm Dentist Thủ Đức",
        Some("0966 080 638"),
        "Phường Linh Trung, Thành phố Thủ Đức, Thành phố Hồ Chí Minh",
    ),
    (
        "765f6593-2b19-4d06-cc8c-08dc4d479451",
        "Tấm Dentist Gò Vấp",
        Some("0966 080 638"),
        "Phường 5, Quận Gò Vấp, Thành phố Hồ Chí Minh",
    ),
    (
        "cad65000-6ff3-47c7-cc8d-08dc4d479451",
        "Tấm Dentist Đống Đa",
        Some("0966 080 638"),
        "Phường Hàng Bột, Quận Đống Đa, Thành phố Hà Nội",
    ),
    (
        "6861c928-0e13-4664-c781-08dcdfa45074",
        "Tấm Dentist Quận 7",
        Some("0977 041 698"),
        "Phường Tân Phong, Quận 7, Thành phố Hồ Chí Minh",
    ),
    (
        "f0f6361e-b99d-4ac7-4108-08dd8159c64a",
        "Tấm Dentist Quận 10",
        Some("0977041698"),
        "Phường 12, Quận 10, Thành phố Hồ Chí Minh",
    ),
];

/// Relative customer volume per branch (the head office is empty).
const BRANCH_WEIGHT: &[usize] = &[0, 30, 22, 18, 10, 12, 8];

const SURNAMES: &[&str] = &[
    "Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng", "Bùi", "Đỗ", "Hồ", "Ngô", "Dương",
    "Lý", "Trương", "Đinh", "Lâm", "Mai",
];
const MIDDLE: &[&str] = &[
    "Văn", "Thị", "Hữu", "Minh", "Ngọc", "Thanh", "Thu", "Hoàng", "Quốc", "Gia", "Bảo", "Phương", "Đức", "Kim", "Xuân",
];
const GIVEN: &[&str] = &[
    "An", "Anh", "Bình", "Châu", "Dũng", "Duy", "Giang", "Hà", "Hải", "Hạnh", "Hiếu", "Hoa", "Hùng", "Hương", "Khánh",
    "Lan", "Linh", "Long", "Mai", "My", "Nam", "Ngân", "Nhung", "Phúc", "Quân", "Quỳnh", "Sơn", "Tâm", "Thảo", "Trang",
    "Trinh", "Tuấn", "Vy", "Yến", "Đạt", "Khoa", "Nhi", "Thư", "Trí", "Uyên",
];
const ANNOTATIONS: &[&str] = &["-QL", " (ĐỦ)", " +26", "- TĐ", " -  (YC TRÍ)", " (CŨ)", " - BS HẢI"];

/// Services: name, price (VND), unit of measure, per tooth.
const SERVICES: &[(&str, f64, &str, bool)] = &[
    ("Khám và tư vấn", 0.0, "Lần", false),
    ("Trám răng", 350_000.0, "Răng", true),
    ("Trám răng thẩm mỹ", 500_000.0, "Răng", true),
    ("Cạo vôi răng", 300_000.0, "Lần", false),
    ("Tẩy trắng răng", 2_500_000.0, "Lần", false),
    ("Nhổ răng khôn", 2_000_000.0, "Răng", true),
    ("Nhổ răng sữa", 100_000.0, "Răng", true),
    ("Điều trị tủy răng cửa", 1_200_000.0, "Răng", true),
    ("Điều trị tủy răng hàm", 2_000_000.0, "Răng", true),
    ("Bọc sứ Zirconia", 5_000_000.0, "Răng", true),
    ("Bọc sứ Cercon", 6_000_000.0, "Răng", true),
    ("Răng sứ Titan", 2_500_000.0, "Răng", true),
    ("Mặt dán sứ Veneer", 8_000_000.0, "Răng", true),
    ("Implant Osstem", 15_000_000.0, "Răng", true),
    ("Implant Straumann", 28_000_000.0, "Răng", true),
    ("Abutment", 3_000_000.0, "Răng", true),
    ("Ghép xương", 6_000_000.0, "Răng", true),
    ("Niềng Mắc Cài Kim Loại Tiêu Chuẩn", 30_000_000.0, "Hàm", false),
    ("Niềng Mắc Cài Sứ", 45_000_000.0, "Hàm", false),
    ("Niềng răng trong suốt Invisalign", 120_000_000.0, "Hàm", false),
    ("Chỉnh dây FIX", 1.0, "Răng", false),
    ("Chụp phim Panorama", 150_000.0, "Lần", false),
    ("Chụp CT Cone Beam", 500_000.0, "Lần", false),
    ("Điều trị nha chu", 800_000.0, "Lần", false),
    ("Hàm tháo lắp", 4_000_000.0, "Hàm", false),
    ("Máng chống nghiến", 1_500_000.0, "Hàm", false),
    ("Đính đá răng", 400_000.0, "Răng", true),
    ("Duy trì hàm trong suốt", 2_000_000.0, "Hàm", false),
];
/// Goods sold or stocked: name, price.
const GOODS: &[(&str, f64)] = &[
    ("Bàn chải kẽ", 45_000.0),
    ("Chỉ nha khoa", 60_000.0),
    ("Nước súc miệng", 120_000.0),
    ("Kem đánh răng Sensodyne", 95_000.0),
    ("Sáp nha khoa", 50_000.0),
    ("Gel chống ê buốt", 180_000.0),
    ("Mắc cài kim loại", 900_000.0),
    ("Trụ Implant Osstem", 4_500_000.0),
];
const SOURCES: &[&str] = &[
    "MKT",
    "Hotline",
    "Sale Online",
    "Khách cũ",
    "Khách hàng giới thiệu",
    "Khách vãng lai",
    "Facebook",
    "Zalo",
    "Tiktok",
    "ĐNCB",
    "Google",
];
const CATEGORIES: &[(&str, &str)] = &[
    ("Bác sĩ (17)", "7"),
    ("Bác sĩ (12)", "6"),
    ("Bác sĩ (03)", "3"),
    ("Bác sĩ (21)", "11"),
    ("Bác sĩ (08)", "2"),
    ("Bác sĩ (33)", "9"),
    ("VIP", "1"),
    ("Khách khó", "4"),
    ("Niềng răng", "5"),
    ("Implant", "8"),
    ("Bảo hành", "10"),
    ("Nợ cũ", "0"),
];
const TITLES: &[&str] = &["Anh", "Chị", "Ông", "Bà", "Em"];
const ROLES: &[&str] = &[
    "Quản trị",
    "Bác sĩ",
    "Phụ tá",
    "Lễ tân",
    "Kế toán",
    "Quản lý chi nhánh",
    "Tư vấn viên",
    "Sale online",
    "Marketing",
    "Thủ kho",
];
const MODULES: &[&str] =
    &["Khách hàng", "Lịch hẹn", "Tiếp nhận", "Phiếu điều trị", "Thanh toán", "Báo cáo", "Kho", "Nhân viên", "Cấu hình"];
const RIGHTS: &[&str] = &["Xem", "Thêm", "Sửa", "Xóa"];
const JOBS: &[&str] = &["Bác sĩ", "Phụ tá", "Lễ tân", "Tư vấn viên", "Sale online", "Quản lý cơ sở"];
const APPOINTMENT_NOTES: &[&str] = &[
    "TÁI KHÁM",
    "GẮN MC RỚT - TA ",
    "TĂNG LỰC - Ý ",
    "Tư vấn niềng răng",
    "Nhổ răng khôn",
    "Cạo vôi răng",
    "Lấy dấu làm sứ",
    "Thử sứ",
    "Gắn sứ",
    "Tái khám implant",
    "Siết dây niềng",
    "Khách hẹn lại",
    "",
    "",
];
const RECEIPT_NOTES: &[&str] = &[
    "Tư vấn niềng răng(ưu đãi sâu dịp khai trương)",
    "Khám tổng quát",
    "Đau răng hàm dưới",
    "Tái khám theo lịch",
    "Làm răng sứ",
    "Khách giới thiệu",
];
const STEP_WORDS: &[&str] =
    &["CVR", "TRÁM", "NK", "LẤY TỦY", "GẮN MC", "THAY THUN", "SIẾT DÂY", "ĐÁNH BÓNG", "XI", "COM"];
const MEMOS: &[&str] = &["MB", "VCB", "TCB", "ACB", "TM", "VPB"];

/// Day 0 of the generated history (the tenant's GUIDs start in 2022).
fn history_start() -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2022, 6, 1).and_then(|d| d.and_hms_opt(8, 0, 0)).unwrap_or_default()
}

fn unit(rng: &mut Rng) -> f64 {
    (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64
}

/// A creation instant for row `i` of `n`, denser towards `now` (the chain grows), during
/// opening hours, with .NET's 7 fractional digits.
fn spread(rng: &mut Rng, i: usize, n: usize, start: NaiveDateTime, now: NaiveDateTime) -> NaiveDateTime {
    let span = (now - start).num_seconds().max(1) as f64;
    let x = (i as f64 + unit(rng)) / n.max(1) as f64;
    let day = start + Duration::seconds((x.powf(0.8) * span) as i64);
    let time = NaiveTime::from_hms_opt(rng.range(8, 20) as u32, rng.range(0, 60) as u32, rng.range(0, 60) as u32)
        .unwrap_or_default();
    let t = day.date().and_time(time) + Duration::nanoseconds(rng.range(0, 10_000_000) * 100);
    if t > now { now - Duration::minutes(rng.range(1, 120)) } else { t }
}

fn midnight(t: NaiveDateTime) -> NaiveDateTime {
    t.date().and_hms_opt(0, 0, 0).unwrap_or(t)
}

fn whole_seconds(t: NaiveDateTime) -> NaiveDateTime {
    t.with_nanosecond(0).unwrap_or(t)
}

/// A Vietnamese full name, sometimes upper-case, annotated or with a trailing space.
fn person(rng: &mut Rng) -> String {
    let mut name = format!("{} {} {}", rng.pick(SURNAMES), rng.pick(MIDDLE), rng.pick(GIVEN));
    if rng.chance(0.45) {
        name = name.to_uppercase();
    }
    if rng.chance(0.04) {
        let note = ANNOTATIONS[rng.index(ANNOTATIONS.len())];
        name.push_str(note);
    }
    if rng.chance(0.06) {
        name.push(' ');
    }
    name
}

fn phone(rng: &mut Rng) -> String {
    let prefix = *rng.pick(&["03", "07", "08", "09", "05"]);
    format!("{prefix}{:08}", rng.range(0, 100_000_000))
}

/// Strips Vietnamese diacritics (for `nameNoSign` and user handles).
pub(crate) fn no_sign(text: &str) -> String {
    const GROUPS: &[(&str, char)] = &[
        ("àáạảãâầấậẩẫăằắặẳẵ", 'a'),
        ("èéẹẻẽêềếệểễ", 'e'),
        ("ìíịỉĩ", 'i'),
        ("òóọỏõôồốộổỗơờớợởỡ", 'o'),
        ("ùúụủũưừứựửữ", 'u'),
        ("ỳýỵỷỹ", 'y'),
        ("đ", 'd'),
        ("ÀÁẠẢÃÂẦẤẬẨẪĂẰẮẶẲẴ", 'A'),
        ("ÈÉẸẺẼÊỀẾỆỂỄ", 'E'),
        ("ÌÍỊỈĨ", 'I'),
        ("ÒÓỌỎÕÔỒỐỘỔỖƠỜỚỢỞỠ", 'O'),
        ("ÙÚỤỦŨƯỪỨỰỬỮ", 'U'),
        ("ỲÝỴỶỸ", 'Y'),
        ("Đ", 'D'),
    ];
    text.chars().map(|c| GROUPS.iter().find(|(g, _)| g.contains(c)).map_or(c, |(_, b)| *b)).collect()
}

fn initials(text: &str) -> String {
    no_sign(text).split_whitespace().filter_map(|w| w.chars().next()).collect::<String>().to_uppercase()
}

/// Permanent teeth in FDI notation.
fn tooth(rng: &mut Rng) -> i64 {
    rng.range(1, 5) * 10 + rng.range(1, 9)
}

fn teeth_text(rng: &mut Rng, count: usize) -> (String, usize) {
    let mut teeth: Vec<i64> = (0..count).map(|_| tooth(rng)).collect();
    teeth.sort_unstable();
    teeth.dedup();
    let n = teeth.len();
    (teeth.iter().map(i64::to_string).collect::<Vec<_>>().join(" "), n)
}

fn visit_reason(rng: &mut Rng) -> String {
    let lines = rng.range(1, 4);
    (0..lines)
        .map(|_| {
            let a = tooth(rng);
            let b = tooth(rng);
            match rng.range(0, 4) {
                0 => format!(
                    "{} {}-{};{};{}",
                    rng.pick(STEP_WORDS),
                    a.min(b),
                    a.max(b),
                    rng.pick(STEP_WORDS),
                    rng.pick(STEP_WORDS)
                ),
                1 => format!("{} {a}", rng.pick(STEP_WORDS)),
                2 => format!("{} {}-{}", rng.pick(STEP_WORDS), a.min(b), a.max(b)),
                _ => "TÁI KHÁM".to_owned(),
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn money_round(v: f64, step: f64) -> f64 {
    (v / step).round() * step
}

fn s(v: &str) -> Row {
    Row::new().with("name", v)
}

/// A data set under construction: rows in creation order.
type Build = Vec<(Box<str>, Rec)>;

fn push(set: &mut Build, id: String, created: NaiveDateTime, row: Row) -> usize {
    set.push((id.into_boxed_str(), Rec::new(created, created, row)));
    set.len() - 1
}

struct Staff {
    id: Box<str>,
    company: usize,
    doctor: bool,
    assistant: bool,
}

struct Product {
    id: Box<str>,
    name: &'static str,
    price: f64,
    per_tooth: bool,
    uom: usize,
    goods: bool,
}

struct Order {
    id: Box<str>,
    partner: usize,
    company: usize,
    doctor: Option<usize>,
    created: NaiveDateTime,
    state: &'static str,
    lines: Vec<usize>,
    total: f64,
    paid: f64,
}

/// Generates every data set, the journals and the next sequence numbers.
pub(crate) fn generate(
    scale: Scale,
    seed: u64,
    now: NaiveDateTime,
) -> (Sets, Vec<Journal>, BTreeMap<&'static str, i64>) {
    let v = volumes(scale);
    let start = history_start();
    let mut seq: BTreeMap<&'static str, i64> = BTreeMap::new();

    // Companies and journals.
    let mut companies: Build = Vec::new();
    let mut journals = Vec::new();
    let mut rng = Rng::new(seed, "tdental/companies");
    for (i, (id, name, phone, address)) in COMPANIES.iter().enumerate() {
        let created = start - Duration::days(400) + Duration::days(90 * i as i64);
        let row = Row::new()
            .with("name", *name)
            .with("active", true)
            .with("isHead", false)
            .with("phone", *phone)
            .with("address", if address.is_empty() { "" } else { "(đã ẩn)" })
            .with("addressV2", "")
            .with("usedAddressV2", if i == 0 { Val::Bool(true) } else { Val::Null });
        push(&mut companies, (*id).to_owned(), created, row);
        for (kind, jname, code) in
            [("cash", "Tiền mặt", "CSH"), ("bank", "Ngân hàng", "BNK"), ("advance", "Tạm ứng", "TU")]
        {
            journals.push(Journal {
                id: comb(&mut rng, created).into_boxed_str(),
                name: jname,
                kind,
                code: format!("{code}{}", i + 1),
                company: (*id).into(),
            });
        }
        let _ = address;
    }
    let company_ids: Vec<Box<str>> = companies.iter().map(|(id, _)| id.clone()).collect();
    let branch_total: usize = BRANCH_WEIGHT.iter().sum();
    let pick_branch = |rng: &mut Rng| {
        let mut x = rng.index(branch_total);
        for (i, w) in BRANCH_WEIGHT.iter().enumerate() {
            if x < *w {
                return i;
            }
            x -= w;
        }
        1
    };

    // Small reference tables.
    let mut rng = Rng::new(seed, "tdental/reference");
    let early = start - Duration::days(300);
    let mut titles: Build = Vec::new();
    for (i, t) in TITLES.iter().enumerate() {
        let c = early + Duration::minutes(i as i64);
        push(&mut titles, comb(&mut rng, c), c, s(t));
    }
    let mut sources: Build = Vec::new();
    for (i, t) in SOURCES.iter().enumerate() {
        let c = early + Duration::days(i as i64 * 20);
        let row = s(t).with("type", "normal").with("isCollaborators", false).with("isActive", i != 9);
        push(&mut sources, comb(&mut rng, c), c, row);
    }
    let mut categories: Build = Vec::new();
    for (i, (t, color)) in CATEGORIES.iter().enumerate() {
        let c = early + Duration::days(i as i64 * 15);
        let row =
            s(t).with("completeName", if i % 3 == 0 { Val::Str((*t).into()) } else { Val::Null }).with("color", *color);
        push(&mut categories, comb(&mut rng, c), c, row);
    }
    let mut roles: Build = Vec::new();
    for (i, t) in ROLES.iter().enumerate() {
        let c = early + Duration::hours(i as i64);
        push(&mut roles, user_id(&mut rng), c, s(t));
    }
    let mut groups: Build = Vec::new();
    'g: for m in MODULES {
        for r in RIGHTS {
            if groups.len() == 35 {
                break 'g;
            }
            let c = early + Duration::minutes(groups.len() as i64 * 7);
            push(&mut groups, comb(&mut rng, c), c, s(&format!("{m} / {r}")));
        }
    }
    let mut commissions: Build = Vec::new();
    for i in 0..17usize {
        let c = early + Duration::days(30 + i as i64 * 9);
        let kind = ["doctor", "assistant", "counselor"][i % 3];
        let label = ["Hoa hồng bác sĩ", "Hoa hồng phụ tá", "Hoa hồng tư vấn"][i % 3];
        let company = 1 + i % 6;
        let short = COMPANIES[company].1.trim_start_matches("Tấm Dentist ");
        let row = s(&format!("{label} {short}{}", if i >= 12 { " (cũ)" } else { "" }))
            .with("type", kind)
            .with("active", i < 12)
            .with("companyId", Val::Str(company_ids[company].clone()));
        push(&mut commissions, comb(&mut rng, c), c, row);
    }

    // Product category, units, products.
    let mut product_categories: Build = Vec::new();
    let categ_created = early + Duration::days(1);
    push(
        &mut product_categories,
        comb(&mut rng, categ_created),
        categ_created,
        s("Điều trị tổng quát").with("completeName", "Điều trị tổng quát").with("type", "service"),
    );
    let categ_id = product_categories[0].0.clone();
    let uoms: Vec<(&str, String)> = ["Răng", "Lần", "Hàm", "Cái"].iter().map(|u| (*u, comb(&mut rng, early))).collect();
    let mut products: Build = Vec::new();
    let mut product_info: Vec<Product> = Vec::new();
    let mut rng = Rng::new(seed, "tdental/products");
    for i in 0..v.products {
        let goods = i % 9 == 8;
        let created = early + Duration::days(2) + Duration::hours(i as i64 * 3);
        let id = comb(&mut rng, created);
        let company = 1 + i % 6;
        let (name, price, uom, per_tooth, code) = if goods {
            let g = (i / 9) % GOODS.len();
            (GOODS[g].0, GOODS[g].1, 3usize, false, format!("SP{:04}", 200 + g))
        } else {
            let k = i % SERVICES.len();
            let (n, p, u, t) = SERVICES[k];
            let uom = ["Răng", "Lần", "Hàm"].iter().position(|x| *x == u).unwrap_or(1);
            (n, p, uom, t, format!("DV{:04}", k + 1))
        };
        let display = if rng.chance(0.03) { format!(" {}", name.to_uppercase()) } else { name.to_owned() };
        let row = Row::new()
            .with("name", display.as_str())
            .with("uomId", uoms[uom].1.as_str())
            .with("uomName", uoms[uom].0)
            .with("categId", Val::Str(categ_id.clone()))
            .with("listPrice", price)
            .with("saleOK", true)
            .with("active", rng.chance(0.95))
            .with("uompoId", uoms[uom].1.as_str())
            .with("uompoName", uoms[uom].0)
            .with("type", if goods { "product" } else { "service" })
            .with("purchaseOK", goods)
            .with("defaultCode", code)
            .with("companyId", Val::Str(company_ids[company].clone()))
            .with("nameNoSign", format!("{display}|{}|{}", no_sign(&display), initials(&display)))
            .with("isLabo", !goods && (name.contains("sứ") || name == "Abutment"))
            .with("type2", if goods { "product" } else { "service" })
            .with("laboPrice", if goods { Val::Null } else { Val::Num(0.0) });
        push(&mut products, id.clone(), created, row);
        product_info.push(Product { id: id.into_boxed_str(), name, price, per_tooth, uom, goods });
    }
    let services: Vec<usize> = (0..product_info.len()).filter(|&i| !product_info[i].goods).collect();
    let goods: Vec<usize> = (0..product_info.len()).filter(|&i| product_info[i].goods).collect();

    // Employees and users.
    let mut rng = Rng::new(seed, "tdental/staff");
    let mut employees: Build = Vec::new();
    let mut staff: Vec<Staff> = Vec::new();
    let mut users: Build = Vec::new();
    let mut user_names: Vec<String> = Vec::new();
    let admin_created = early;
    push(
        &mut users,
        user_id(&mut rng),
        admin_created,
        Row::new()
            .with("name", "Admin")
            .with("userName", "admin")
            .with("partnerId", comb(&mut rng, admin_created))
            .with("active", true)
            .with("companyId", Val::Str(company_ids[0].clone())),
    );
    user_names.push("Admin".into());
    for i in 0..v.employees {
        let created = early + Duration::days(3) + Duration::hours((i * 97 % 24_000) as i64 + i as i64 * 30);
        let id = comb(&mut rng, created);
        let company = 1 + pick_branch(&mut rng).saturating_sub(1) % 6;
        let job = match rng.range(0, 20) {
            0..=6 => 0,
            7..=13 => 1,
            14..=15 => 2,
            16..=17 => 3,
            18 => 4,
            _ => 5,
        };
        let doctor = job == 0;
        let assistant = job == 1 || (doctor && rng.chance(0.2));
        let name = if doctor && rng.chance(0.3) {
            match rng.range(0, 3) {
                0 => format!("Bác sĩ ({:02}) Full", rng.range(1, 40)),
                1 => format!("BÁC SĨ {:02}", rng.range(1, 40)),
                _ => format!("Bs ({:02})", rng.range(1, 40)),
            }
        } else {
            person(&mut rng)
        };
        let user = if users.len() < v.users && (job != 1 || rng.chance(0.3)) {
            let uid = user_id(&mut rng);
            let handle = format!(
                "{}{}",
                no_sign(name.trim()).split_whitespace().last().unwrap_or("nv").to_lowercase(),
                users.len()
            );
            push(
                &mut users,
                uid.clone(),
                created,
                Row::new()
                    .with("name", name.trim())
                    .with("userName", handle)
                    .with("partnerId", comb(&mut rng, created))
                    .with("active", rng.chance(0.94))
                    .with("phoneNumber", if rng.chance(0.3) { Val::Str(phone(&mut rng).into()) } else { Val::Null })
                    .with("jobName", JOBS[job])
                    .with("companyId", Val::Str(company_ids[company].clone())),
            );
            user_names.push(name.trim().to_owned());
            Val::Str(uid.into())
        } else {
            Val::Null
        };
        let row = Row::new()
            .with("name", name.as_str())
            .with("isDoctor", doctor)
            .with("isAssistant", assistant)
            .with("ref", format!("NV{:05}", i + 1))
            .with("phone", if rng.chance(0.4) { Val::Str(phone(&mut rng).into()) } else { Val::Null })
            .with("wage", 0.0)
            .with("leavePerMonth", 0.0)
            .with("regularHour", 8.0)
            .with("overtimeRate", 150.0)
            .with("restDayRate", 100.0)
            .with("allowance", 0.0)
            .with("active", rng.chance(0.9))
            .with("companyId", Val::Str(company_ids[company].clone()))
            .with("hrJobName", JOBS[job])
            .with("isReceptionist", job == 2)
            .with("userId", user)
            .with("partnerId", comb(&mut rng, created));
        push(&mut employees, id.clone(), created, row);
        staff.push(Staff { id: id.into_boxed_str(), company, doctor, assistant });
    }
    while users.len() < v.users {
        let created = early + Duration::days(users.len() as i64);
        let name = person(&mut rng);
        let handle = format!("user{}", users.len());
        push(
            &mut users,
            user_id(&mut rng),
            created,
            Row::new()
                .with("name", name.trim())
                .with("userName", handle)
                .with("partnerId", comb(&mut rng, created))
                .with("active", true)
                .with("companyId", Val::Str(company_ids[1].clone())),
        );
        user_names.push(name.trim().to_owned());
    }
    let user_ids: Vec<Box<str>> = users.iter().map(|(id, _)| id.clone()).collect();
    let doctors_at: Vec<Vec<usize>> = (0..COMPANIES.len())
        .map(|c| {
            let here: Vec<usize> = (0..staff.len()).filter(|&i| staff[i].doctor && staff[i].company == c).collect();
            if here.is_empty() { (0..staff.len()).filter(|&i| staff[i].doctor).collect() } else { here }
        })
        .collect();
    let assistants_at: Vec<Vec<usize>> = (0..COMPANIES.len())
        .map(|c| {
            let here: Vec<usize> = (0..staff.len()).filter(|&i| staff[i].assistant && staff[i].company == c).collect();
            if here.is_empty() { (0..staff.len()).collect() } else { here }
        })
        .collect();
    let pick_staff = |rng: &mut Rng, pool: &[usize]| -> Option<usize> {
        if pool.is_empty() { None } else { Some(pool[rng.index(pool.len())]) }
    };
    let sid = |i: Option<usize>| -> Val { i.map_or(Val::Null, |i| Val::Str(staff[i].id.clone())) };

    // Customers.
    let mut rng = Rng::new(seed, "tdental/customers");
    let mut customers: Build = Vec::with_capacity(v.customers);
    let mut customer_company: Vec<usize> = Vec::with_capacity(v.customers);
    let mut last_phone = String::new();
    for i in 0..v.customers {
        let created = spread(&mut rng, i, v.customers, start, now);
        let id = comb(&mut rng, created);
        let company = pick_branch(&mut rng);
        let name = person(&mut rng);
        let r = if i < v.customers / 4 { format!("T{:04}", i + 1) } else { format!("T{:06}", 30_000 + i) };
        let ph = if i > 0 && rng.chance(0.01) { last_phone.clone() } else { phone(&mut rng) };
        last_phone.clone_from(&ph);
        let gender = match rng.range(0, 100) {
            0..=61 => "female",
            62..=97 => "male",
            _ => "other",
        };
        let year = rng.chance(0.65).then(|| rng.range(1950, 2019));
        let month = year.filter(|_| rng.chance(0.2)).map(|_| rng.range(1, 13));
        let day = month.map(|_| rng.range(1, 29));
        let mut categories_of = Vec::new();
        if rng.chance(0.2) {
            categories_of.push(Value::String(categories[rng.index(categories.len())].0.to_string()));
        }
        let registered = if rng.chance(0.1) {
            midnight(created)
        } else {
            let utc = created - Duration::hours(7) - Duration::seconds(rng.range(1, 30));
            utc.with_nanosecond(utc.nanosecond() / 1_000_000 * 1_000_000).unwrap_or(utc)
        };
        let address = rng.chance(0.3);
        let row = Row::new()
            .with("ref", r)
            .with("name", name)
            .with("phone", ph)
            .with("email", if rng.chance(0.05) { Val::Str(format!("kh{}@gmail.com", i + 1).into()) } else { Val::Null })
            .with(
                "street",
                if address { Val::Str(format!("{} Nguyễn Trãi", rng.range(1, 400)).into()) } else { Val::Null },
            )
            .with("cityName", if address { Val::Str("Thành phố Hồ Chí Minh".into()) } else { Val::Null })
            .with("districtName", if address { Val::Str("Quận 5".into()) } else { Val::Null })
            .with("wardName", if address { Val::Str("Phường 2".into()) } else { Val::Null })
            .with("birthYear", year)
            .with("birthMonth", month)
            .with("birthDay", day)
            .with(
                "jobTitle",
                if rng.chance(0.3) {
                    Val::Str(user_names[rng.index(user_names.len())].clone().into())
                } else {
                    Val::Null
                },
            )
            .with(
                "sourceId",
                if rng.chance(0.9) { Val::Str(sources[rng.index(sources.len())].0.clone()) } else { Val::Null },
            )
            .with("date", registered)
            .with("companyId", Val::Str(company_ids[company].clone()))
            .with("categoryIds", Value::Array(categories_of))
            .with("active", rng.chance(0.98))
            .with(
                "userId",
                if rng.chance(0.4) { Val::Str(user_ids[rng.index(user_ids.len())].clone()) } else { Val::Null },
            )
            .with("gender", gender)
            .with("comment", if rng.chance(0.03) { Val::Str("Khách dị ứng thuốc tê".into()) } else { Val::Null })
            .with("treatmentStatus", "none")
            .with("dateCreated", created)
            .with(
                "titleId",
                if rng.chance(0.2) { Val::Str(titles[rng.index(titles.len())].0.clone()) } else { Val::Null },
            );
        push(&mut customers, id, created, row);
        customer_company.push(company);
    }
    let n_customers = customers.len();
    let pick_customer = |rng: &mut Rng| rng.index(n_customers);

    // Sale orders and lines.
    let mut rng = Rng::new(seed, "tdental/orders");
    let mut line_count = vec![1usize; v.orders];
    for _ in v.orders..v.lines {
        let k = rng.index(v.orders);
        line_count[k] += 1;
    }
    let mut orders: Vec<Order> = Vec::with_capacity(v.orders);
    let mut lines: Build = Vec::with_capacity(v.lines);
    let mut line_price: Vec<f64> = Vec::with_capacity(v.lines);
    let mut line_order: Vec<usize> = Vec::with_capacity(v.lines);
    let mut line_product: Vec<usize> = Vec::with_capacity(v.lines);
    for (o, count) in line_count.iter().enumerate() {
        let created = whole_seconds(spread(&mut rng, o, v.orders, start, now));
        let id = comb(&mut rng, created);
        let partner = pick_customer(&mut rng);
        let company = customer_company[partner];
        let recent = now - created < Duration::days(30);
        let roll = rng.range(0, 100);
        let state = if recent {
            match roll {
                0..=69 => "sale",
                70..=79 => "draft",
                80..=94 => "done",
                _ => "cancel",
            }
        } else {
            match roll {
                0..=54 => "done",
                55..=89 => "sale",
                90..=96 => "cancel",
                _ => "draft",
            }
        };
        let doctor = pick_staff(&mut rng, &doctors_at[company]);
        let mut order = Order {
            id: id.into_boxed_str(),
            partner,
            company,
            doctor,
            created,
            state,
            lines: Vec::new(),
            total: 0.0,
            paid: 0.0,
        };
        for _ in 0..*count {
            let p = services[rng.index(services.len())];
            let prod = &product_info[p];
            let lid = comb(&mut rng, created + Duration::milliseconds(3));
            let roll = rng.range(0, 100);
            let tooth_type = if prod.per_tooth || roll < 80 {
                if prod.uom == 2 {
                    ["whole_jaw", "upper_jaw", "lower_jaw"][rng.index(3)]
                } else if roll < 92 {
                    "manual"
                } else {
                    ["whole_jaw", "upper_jaw", "lower_jaw"][rng.index(3)]
                }
            } else {
                ["whole_jaw", "upper_jaw", "lower_jaw"][rng.index(3)]
            };
            let (diagnostic, qty) = if tooth_type == "manual" && prod.per_tooth {
                let want = rng.range(1, 5) as usize;
                let (text, n) = teeth_text(&mut rng, want);
                if rng.chance(0.75) { (Val::Str(text.into()), n as f64) } else { (Val::Null, n as f64) }
            } else if tooth_type == "manual" {
                (if rng.chance(0.3) { Val::Str("Khám tổng quát".into()) } else { Val::Null }, 1.0)
            } else {
                let jaw = match tooth_type {
                    "upper_jaw" => "Hàm trên",
                    "lower_jaw" => "Hàm dưới",
                    _ => "Nguyên hàm",
                };
                (if rng.chance(0.5) { Val::Str(jaw.into()) } else { Val::Null }, 1.0)
            };
            let gross = prod.price * qty;
            let (discount_type, discount, fixed) = match rng.range(0, 20) {
                0 => ("percentage", 10.0, 0.0),
                1 => ("fixed", 0.0, money_round(gross * 0.05, 10_000.0)),
                _ => ("percentage", 0.0, 0.0),
            };
            let subtotal = (gross * (1.0 - discount / 100.0) - fixed).max(0.0);
            let mut date = midnight(created);
            if rng.chance(0.01) {
                date += Duration::days(rng.range(30, 240));
            }
            let line_state = if state == "sale" && rng.chance(0.2) { "done" } else { state };
            let doctor_line = doctor.or_else(|| pick_staff(&mut rng, &doctors_at[company]));
            let assistant = if rng.chance(0.4) { pick_staff(&mut rng, &assistants_at[company]) } else { None };
            let counselor = if rng.chance(0.6) { Some(rng.index(staff.len())) } else { None };
            let row = Row::new()
                .with("date", date)
                .with("name", prod.name)
                .with("state", line_state)
                .with("orderPartnerId", Val::Str(customers[partner].0.clone()))
                .with("orderId", Val::Str(order.id.clone()))
                .with("productId", Val::Str(prod.id.clone()))
                .with("diagnostic", diagnostic)
                .with("employeeId", sid(doctor_line))
                .with("assistantId", sid(assistant))
                .with("counselorId", sid(counselor))
                .with("productUOMQty", qty)
                .with("priceUnit", prod.price)
                .with("priceSubTotal", subtotal)
                .with("priceTotal", subtotal)
                .with("toothType", tooth_type)
                .with("discountType", discount_type)
                .with("discount", discount)
                .with("discountFixedAmount", fixed)
                .with("amountInvoiced", 0.0)
                .with("amountEInvoiced", if rng.chance(0.5) { Val::Num(0.0) } else { Val::Null })
                .with("productUOMId", uoms[prod.uom].1.as_str())
                .with("amountResidual", subtotal)
                .with("isActive", true)
                .with("companyId", Val::Str(company_ids[company].clone()));
            let li = push(&mut lines, lid, created, row);
            line_price.push(subtotal);
            line_order.push(o);
            line_product.push(p);
            order.lines.push(li);
            if line_state != "cancel" {
                order.total += subtotal;
            }
        }
        orders.push(order);
    }

    // Payments: sale-order payments (each with its account payment), then other payments.
    let mut rng = Rng::new(seed, "tdental/payments");
    let payable: Vec<usize> =
        (0..orders.len()).filter(|&o| orders[o].total > 0.0 && matches!(orders[o].state, "sale" | "done")).collect();
    let mut installments = vec![0usize; orders.len()];
    if !payable.is_empty() {
        for k in 0..v.order_payments {
            let mut o = payable[rng.index(payable.len())];
            let mut guard = 0;
            while installments[o] >= 4 && guard < payable.len() {
                o = payable[(k + guard) % payable.len()];
                guard += 1;
            }
            installments[o] += 1;
        }
    }
    let mut order_payments: Build = Vec::with_capacity(v.order_payments);
    let mut account_payments: Build = Vec::with_capacity(v.account_payments);
    let mut line_paid = vec![0.0f64; lines.len()];
    let mut cust_in: BTreeMap<i32, i64> = BTreeMap::new();
    for (o, count) in installments.iter().enumerate() {
        if *count == 0 {
            continue;
        }
        let order = &orders[o];
        let target = if order.state == "done" {
            order.total
        } else {
            money_round(order.total * (0.4 + 0.6 * unit(&mut rng)), 10_000.0)
        };
        let mut remaining = target;
        let mut when = order.created;
        for k in 0..*count {
            let amount = if k + 1 == *count {
                remaining
            } else {
                money_round(remaining * (0.3 + 0.4 * unit(&mut rng)), 10_000.0)
            };
            remaining -= amount;
            let gap = ((now - when).num_minutes() / (*count - k + 1) as i64).max(1);
            when = whole_seconds(when + Duration::minutes(rng.range(1, gap + 1)));
            let cancelled = rng.chance(0.02);
            let state = if cancelled { "cancel" } else { "posted" };
            let company = order.company;
            let journal = &journals[company * 3 + if rng.chance(0.6) { 1 } else { 0 }];
            let sop_id = comb(&mut rng, when);
            let ap_id = comb(&mut rng, when + Duration::milliseconds(20));
            // Allocate over lines in order.
            let mut left = amount;
            let mut paid_lines = Vec::new();
            let mut alloc = Vec::new();
            for &li in &order.lines {
                if left <= 0.0 {
                    break;
                }
                let room = (line_price[li] - line_paid[li]).max(0.0);
                if room <= 0.0 {
                    continue;
                }
                let take = room.min(left);
                if !cancelled {
                    line_paid[li] += take;
                }
                left -= take;
                paid_lines.push(Value::String(lines[li].0.to_string()));
                alloc.push(json!(take));
            }
            let year = when.year();
            let n = cust_in.entry(year).or_insert(0);
            *n += 1;
            let memo = format!(
                "{}-{}-{}-{}K",
                rng.range(1, 31),
                rng.pick(MEMOS),
                initials(product_info[line_product[order.lines[0]]].name),
                (amount / 1000.0) as i64
            );
            push(
                &mut order_payments,
                sop_id.clone(),
                when,
                Row::new()
                    .with("amount", amount)
                    .with("date", midnight(when))
                    .with("note", if rng.chance(0.3) { Val::Str(memo.clone().into()) } else { Val::Null })
                    .with("state", state)
                    .with("orderId", Val::Str(order.id.clone()))
                    .with("companyId", Val::Str(company_ids[company].clone()))
                    .with("partnerId", Val::Str(customers[order.partner].0.clone()))
                    .with("lineIds", Value::Array(paid_lines))
                    .with("lineAmounts", Value::Array(alloc))
                    .with("paymentIds", json!([ap_id])),
            );
            push(
                &mut account_payments,
                ap_id,
                when + Duration::milliseconds(20),
                Row::new()
                    .with("paymentDate", midnight(when))
                    .with("partnerType", "customer")
                    .with("paymentType", "inbound")
                    .with("journalId", Val::Str(journal.id.clone()))
                    .with("state", state)
                    .with("name", format!("CUST.IN/{year}/{n}"))
                    .with("amount", amount)
                    .with("communication", if rng.chance(0.7) { Val::Str(memo.into()) } else { Val::Null })
                    .with("partnerId", Val::Str(customers[order.partner].0.clone()))
                    .with("companyId", Val::Str(company_ids[company].clone()))
                    .with("saleOrderId", Val::Str(order.id.clone())),
            );
        }
        let _ = remaining;
    }
    for (li, paid) in line_paid.iter().enumerate() {
        let o = line_order[li];
        if *paid > 0.0 {
            orders[o].paid += paid;
        }
        let row = &mut lines[li].1.row;
        row.set("amountInvoiced", *paid);
        let residual = (line_price[li] - paid).max(0.0);
        // Stale zero residuals exist in production (README §3.5, [M]).
        let stale = residual > 0.0 && rng.chance(0.03);
        row.set("amountResidual", if stale { 0.0 } else { residual });
    }
    let others = v.account_payments.saturating_sub(account_payments.len());
    let mut supp_out = 0i64;
    let mut cust_out = 0i64;
    for i in 0..others {
        let created = whole_seconds(spread(&mut rng, i, others, start, now));
        let id = comb(&mut rng, created);
        let roll = rng.range(0, 100);
        let company = 1 + rng.index(6);
        let (ptype, pay, partner, journal, name) = if roll < 60 {
            let n = cust_in.entry(created.year()).or_insert(0);
            *n += 1;
            let p = pick_customer(&mut rng);
            (
                "customer",
                "inbound",
                Val::Str(customers[p].0.clone()),
                &journals[company * 3 + 2],
                format!("CUST.IN/{}/{n}", created.year()),
            )
        } else if roll < 85 {
            cust_out += 1;
            let p = pick_customer(&mut rng);
            (
                "customer",
                "outbound",
                Val::Str(customers[p].0.clone()),
                &journals[company * 3],
                format!("CUST.OUT/{}/{cust_out}", created.year()),
            )
        } else {
            supp_out += 1;
            (
                "supplier",
                "outbound",
                Val::Null,
                &journals[company * 3 + 1],
                format!("SUPP.OUT/{}/{supp_out}", created.year()),
            )
        };
        let amount = money_round(rng.range(100_000, 20_000_000) as f64, 50_000.0);
        let state = match rng.range(0, 100) {
            0..=91 => "posted",
            92..=96 => "cancel",
            _ => "draft",
        };
        push(
            &mut account_payments,
            id,
            created,
            Row::new()
                .with("paymentDate", midnight(created))
                .with("partnerType", ptype)
                .with("paymentType", pay)
                .with("journalId", Val::Str(journal.id.clone()))
                .with("state", state)
                .with("name", name)
                .with("amount", amount)
                .with("communication", if pay == "inbound" { "Tạm ứng điều trị" } else { "Hoàn tiền khách" })
                .with("partnerId", partner)
                .with("companyId", Val::Str(company_ids[company].clone()))
                .with("saleOrderId", Val::Null),
        );
    }

    // Finish orders; customers' treatment status.
    let mut sale_orders: Build = Vec::with_capacity(orders.len());
    for (o, order) in orders.iter().enumerate() {
        let mut names: Vec<&str> = Vec::new();
        for &li in &order.lines {
            let n = product_info[line_product[li]].name;
            if !names.contains(&n) {
                names.push(n);
            }
        }
        let residual = (order.total - order.paid).max(0.0);
        let user = user_ids[rng.index(user_ids.len())].clone();
        let row = Row::new()
            .with("dateOrder", order.created)
            .with("partnerId", Val::Str(customers[order.partner].0.clone()))
            .with("amountTotal", order.total)
            .with("state", order.state)
            .with("name", format!("SO{:05}", o + 1))
            .with("residual", residual)
            .with("totalPaid", order.paid)
            .with("productNames", names.join(", "))
            .with("companyId", Val::Str(company_ids[order.company].clone()))
            .with("userId", Val::Str(user))
            .with("doctorId", sid(order.doctor))
            .with("amountUntaxed", order.total)
            .with("invoiceStatus", "no")
            .with("isQuotation", false);
        push(&mut sale_orders, order.id.to_string(), order.created, row);
        let status = if order.state == "sale" {
            "sale"
        } else if order.state == "done" {
            "done"
        } else {
            ""
        };
        if !status.is_empty() {
            customers[order.partner].1.row.set("treatmentStatus", status);
        }
    }

    // Visits (DotKhams), in creation order.
    let mut rng = Rng::new(seed, "tdental/dotkhams");
    let visitable: Vec<usize> = (0..orders.len()).filter(|&o| matches!(orders[o].state, "sale" | "done")).collect();
    let mut visits: Vec<(NaiveDateTime, Row)> = Vec::with_capacity(v.dotkhams);
    if !visitable.is_empty() {
        for _ in 0..v.dotkhams {
            let o = visitable[rng.index(visitable.len())];
            let order = &orders[o];
            let room = (now - order.created).num_minutes().max(1);
            let date = whole_seconds(order.created + Duration::minutes(rng.range(0, room.min(400 * 24 * 60))));
            let doctor = order.doctor.or_else(|| pick_staff(&mut rng, &doctors_at[order.company]));
            let assistant = if rng.chance(0.7) { pick_staff(&mut rng, &assistants_at[order.company]) } else { None };
            let second = if rng.chance(0.05) { pick_staff(&mut rng, &assistants_at[order.company]) } else { None };
            let state = if now - date < Duration::days(2) {
                "draft"
            } else {
                match rng.range(0, 100) {
                    0..=86 => "done",
                    87..=92 => "confirmed",
                    93..=96 => "draft",
                    _ => "cancel",
                }
            };
            let row = Row::new()
                .with("partnerId", Val::Str(customers[order.partner].0.clone()))
                .with("doctorId", sid(doctor))
                .with("note", "")
                .with("reason", visit_reason(&mut rng))
                .with("assistantId", sid(assistant))
                .with("assistantSecondaryId", sid(second))
                .with("date", date)
                .with("saleOrderId", Val::Str(order.id.clone()))
                .with("invoiceState", "none")
                .with("state", state)
                .with("totalInvoicesResidual", 0.0)
                .with("totalPaid", 0.0)
                .with("totalAmount", 0.0)
                .with("companyId", Val::Str(company_ids[order.company].clone()))
                .with("appointmentId", Val::Null);
            visits.push((date, row));
        }
    }
    visits.sort_by_key(|(d, _)| *d);
    let mut dotkhams: Build = Vec::with_capacity(visits.len());
    for (k, (date, mut row)) in visits.into_iter().enumerate() {
        row.set("name", format!("DK/{}/{}", date.year(), k + 1));
        let created = date + Duration::nanoseconds(rng.range(0, 10_000_000) * 100);
        let id = comb(&mut rng, created);
        push(&mut dotkhams, id, created, row);
    }

    // Steps of sale-order lines.
    let mut rng = Rng::new(seed, "tdental/steps");
    let mut steps: Build = Vec::with_capacity(v.steps);
    let mut step_order: BTreeMap<usize, i64> = BTreeMap::new();
    let mut pending: Vec<(NaiveDateTime, Row)> = Vec::with_capacity(v.steps);
    for _ in 0..v.steps {
        let li = rng.index(lines.len());
        let created = lines[li].1.created + Duration::minutes(rng.range(0, 60 * 24 * 30));
        let created = created.min(now) + Duration::nanoseconds(rng.range(0, 10_000_000) * 100);
        let order_no = step_order.entry(li).or_insert(-1);
        *order_no += 1;
        let prod = product_info[line_product[li]].name;
        let name = if rng.chance(0.6) {
            let want = rng.range(1, 5) as usize;
            let (teeth, _) = teeth_text(&mut rng, want);
            format!(
                "{}/{}/{}: {} ({}) ; {}",
                created.day(),
                created.month(),
                created.year() % 100,
                prod.to_uppercase(),
                teeth.replace(' ', ","),
                rng.pick(STEP_WORDS)
            )
        } else {
            format!("Lần {}", *order_no + 1)
        };
        let row = Row::new()
            .with("name", name)
            .with("isDone", rng.chance(0.6))
            .with("order", *order_no)
            .with("numberOfTimes", Val::Null)
            .with("saleLineId", Val::Str(lines[li].0.clone()))
            .with("dateCreated", created)
            .with("saleOrderId", Val::Str(orders[line_order[li]].id.clone()))
            .with("productId", Val::Str(product_info[line_product[li]].id.clone()));
        pending.push((created, row));
    }
    pending.sort_by_key(|(d, _)| *d);
    for (created, row) in pending {
        let id = comb(&mut rng, created);
        push(&mut steps, id, created, row);
    }

    // Appointments.
    let mut rng = Rng::new(seed, "tdental/appointments");
    let mut appointments: Build = Vec::with_capacity(v.appointments);
    let today = now.date();
    for i in 0..v.appointments {
        let created = spread(&mut rng, i, v.appointments, start, now);
        let id = comb(&mut rng, created);
        let partner = pick_customer(&mut rng);
        let company = customer_company[partner];
        let lead = if rng.chance(0.35) { 0 } else { rng.range(1, 46) };
        let slot_day = created.date() + Duration::days(lead);
        let minute = *rng.pick(&[0i64, 10, 15, 20, 30, 40, 45]);
        let hour = if lead == 0 { (created.hour() as i64 + 1).min(20) } else { rng.range(8, 20) };
        let mut date = slot_day.and_hms_opt(hour as u32, minute as u32, 0).unwrap_or(created);
        if i % 20_000 == 17 {
            // The year-1224 typo of production (README §2.6).
            date = date.with_year(1224).unwrap_or(date);
        }
        let state = if date.date() > today {
            if rng.chance(0.92) { "confirmed" } else { "cancel" }
        } else if date.date() == today {
            match rng.range(0, 4) {
                0 => "confirmed",
                1 => "waiting",
                2 => "examination",
                _ => "done",
            }
        } else {
            match rng.range(0, 100) {
                0..=61 => "done",
                62..=75 => "cancel",
                76..=97 => "confirmed",
                98 => "waiting",
                _ => "examination",
            }
        };
        let doctor = if rng.chance(0.85) { pick_staff(&mut rng, &doctors_at[company]) } else { None };
        let row = Row::new()
            .with("name", format!("AP{:05}", i + 1))
            .with("date", date)
            .with("timeExpected", *rng.pick(&[10i64, 15, 30, 30, 30, 45, 60, 90]))
            .with("doctorId", sid(doctor))
            .with("state", state)
            .with("reason", if state == "cancel" && rng.chance(0.5) { Val::Str("Khách bận".into()) } else { Val::Null })
            .with("partnerId", Val::Str(customers[partner].0.clone()))
            .with("note", *rng.pick(APPOINTMENT_NOTES))
            .with("isRepeatCustomer", rng.chance(0.55))
            .with("companyId", Val::Str(company_ids[company].clone()))
            .with("color", rng.range(0, 8).to_string())
            .with("userId", Val::Str(user_ids[rng.index(user_ids.len())].clone()))
            .with("dateCreated", created)
            .with("saleOrderId", Val::Null)
            .with("dotKhamId", Val::Null);
        push(&mut appointments, id, created, row);
    }

    // Check-ins (customer receipts).
    let mut rng = Rng::new(seed, "tdental/receipts");
    let mut receipts: Build = Vec::with_capacity(v.receipts);
    for i in 0..v.receipts {
        let created = spread(&mut rng, i, v.receipts, start, now);
        let waiting = created.with_second(0).and_then(|t| t.with_nanosecond(0)).unwrap_or(created);
        let id = comb(&mut rng, created);
        let partner = pick_customer(&mut rng);
        let company = customer_company[partner];
        let state = if waiting.date() == today {
            *rng.pick(&["waiting", "examination", "done"])
        } else {
            match rng.range(0, 100) {
                0..=91 => "done",
                92..=97 => "waiting",
                _ => "examination",
            }
        };
        let exam = (state != "waiting").then(|| waiting + Duration::minutes(rng.range(5, 40)));
        let done = exam.filter(|_| state == "done").map(|e| e + Duration::minutes(rng.range(15, 90)));
        let no_treatment = state == "done" && rng.chance(0.04);
        let doctor = if rng.chance(0.7) { pick_staff(&mut rng, &doctors_at[company]) } else { None };
        let row = Row::new()
            .with("dateWaiting", waiting)
            .with("dateExamination", exam)
            .with("dateDone", done)
            .with("doctorId", sid(doctor))
            .with("partnerId", Val::Str(customers[partner].0.clone()))
            .with("isRepeatCustomer", rng.chance(0.6))
            .with("isNoTreatment", no_treatment)
            .with("reason", if no_treatment { Val::Str("Chỉ tư vấn".into()) } else { Val::Null })
            .with("state", state)
            .with("note", if rng.chance(0.4) { Val::Str((*rng.pick(RECEIPT_NOTES)).into()) } else { Val::Null })
            .with("companyId", Val::Str(company_ids[company].clone()))
            .with("timeExpected", 30i64)
            .with("userId", Val::Str(user_ids[rng.index(user_ids.len())].clone()));
        push(&mut receipts, id, created, row);
    }

    // Quotations.
    let mut rng = Rng::new(seed, "tdental/quotations");
    let mut quotations: Build = Vec::new();
    for i in 0..v.quotations {
        let created = whole_seconds(spread(&mut rng, i, v.quotations, start + Duration::days(500), now));
        let id = comb(&mut rng, created);
        let (partner, order) = if rng.chance(0.3) && !orders.is_empty() {
            let o = rng.index(orders.len());
            (orders[o].partner, Some(o))
        } else {
            (pick_customer(&mut rng), None)
        };
        let employee = pick_staff(&mut rng, &doctors_at[customer_company[partner]]);
        let total = money_round(rng.range(1_000_000, 80_000_000) as f64, 500_000.0);
        let day = midnight(created);
        let row = Row::new()
            .with("name", format!("BG{:05}", i + 1))
            .with("dateQuotation", day)
            .with("dateEndQuotation", day + Duration::days(30))
            .with("dateApplies", 30i64)
            .with("employeeId", sid(employee))
            .with("totalAmount", total)
            .with("orderId", order.map_or(Val::Null, |o| Val::Str(orders[o].id.clone())))
            .with("state", Val::Null)
            .with("userId", Val::Str(user_ids[rng.index(user_ids.len())].clone()))
            .with("partnerId", Val::Str(customers[partner].0.clone()))
            .with("note", if rng.chance(0.3) { Val::Str("Báo giá niềng răng".into()) } else { Val::Null });
        push(&mut quotations, id, created, row);
    }

    // Stock.
    let mut rng = Rng::new(seed, "tdental/stock");
    let mut pickings: Build = Vec::new();
    let mut picking_info: Vec<(bool, usize, &str)> = Vec::new();
    let (mut n_in, mut n_out) = (0, 0);
    for i in 0..v.pickings {
        let created = whole_seconds(spread(&mut rng, i, v.pickings, start, now));
        let id = comb(&mut rng, created);
        let incoming = rng.chance(0.7);
        let name = if incoming {
            n_in += 1;
            format!("WH/IN/{n_in:05}")
        } else {
            n_out += 1;
            format!("WH/OUT/{n_out:05}")
        };
        let company = 1 + rng.index(6);
        let state = if rng.chance(0.85) { "done" } else { "draft" };
        let row = Row::new()
            .with("state", state)
            .with("date", created)
            .with("dateDone", if state == "done" { Val::DateTime(created + Duration::hours(2)) } else { Val::Null })
            .with("name", name)
            .with("createdByName", user_names[rng.index(user_names.len())].as_str())
            .with("companyId", Val::Str(company_ids[company].clone()))
            .with("totalAmount", 0.0)
            .with("type", if incoming { "incoming" } else { "outgoing" });
        push(&mut pickings, id, created, row);
        picking_info.push((incoming, company, state));
    }
    let mut moves: Build = Vec::new();
    let mut picking_total = vec![0.0f64; pickings.len()];
    for i in 0..v.stock_moves {
        if goods.is_empty() {
            break;
        }
        let pk = if pickings.is_empty() || rng.chance(0.05) { None } else { Some(rng.index(pickings.len())) };
        let created = match pk {
            Some(p) => pickings[p].1.created + Duration::seconds(i as i64 % 600),
            None => whole_seconds(spread(&mut rng, i, v.stock_moves, start, now)),
        };
        let id = comb(&mut rng, created);
        let g = goods[rng.index(goods.len())];
        let prod = &product_info[g];
        let qty = rng.range(1, 50) as f64;
        let total = prod.price * qty;
        let (incoming, company, state) = pk.map_or((true, 1, "done"), |p| picking_info[p]);
        if let Some(p) = pk {
            picking_total[p] += total;
        }
        let reference = pk.map_or_else(|| "Kiểm kho".to_owned(), |p| pickings[p].1.row.str("name").to_owned());
        let row = Row::new()
            .with("name", prod.name)
            .with("reference", reference)
            .with("productId", Val::Str(prod.id.clone()))
            .with("productQty", qty)
            .with("productUomQty", qty)
            .with("priceUnit", prod.price)
            .with("priceDisplay", prod.price)
            .with("totalAmount", total)
            .with("value", if incoming { total } else { -total })
            .with("uomPrice", prod.price)
            .with("isIn", incoming)
            .with("isOut", !incoming)
            .with("state", state)
            .with("date", created)
            .with("dateDone", if state == "done" { Val::DateTime(created) } else { Val::Null })
            .with("pickingId", pk.map_or(Val::Null, |p| Val::Str(pickings[p].0.clone())))
            .with("inventoryId", Val::Null)
            .with("companyId", Val::Str(company_ids[company].clone()));
        push(&mut moves, id, created, row);
    }
    for (p, total) in picking_total.iter().enumerate() {
        pickings[p].1.row.set("totalAmount", *total);
    }

    seq.insert("appointments", appointments.len() as i64);
    seq.insert("saleorders", sale_orders.len() as i64);
    seq.insert("dotkhams", dotkhams.len() as i64);
    seq.insert("custin", cust_in.values().copied().max().unwrap_or(0));

    let mut sets: Sets = BTreeMap::new();
    for (name, set) in [
        ("companies", companies),
        ("partnertitles", titles),
        ("partnersources", sources),
        ("partnercategories", categories),
        ("applicationroles", roles),
        ("resgroups", groups),
        ("commissions", commissions),
        ("productcategories", product_categories),
        ("products", products),
        ("employees", employees),
        ("applicationusers", users),
        ("partners", customers),
        ("saleorders", sale_orders),
        ("saleorderlines", lines),
        ("saleorderpayments", order_payments),
        ("accountpayments", account_payments),
        ("dotkhams", dotkhams),
        ("dotkhamsteps", steps),
        ("appointments", appointments),
        ("customerreceipts", receipts),
        ("quotations", quotations),
        ("stockpickings", pickings),
        ("stockmoves", moves),
    ] {
        sets.insert(name, set.into_iter().collect());
    }
    (sets, journals, seq)
}

use crate::rows::Val;
