//! Enamel's GraphQL API (DESIGN §4): every canonical entity as a type, every relation as a
//! field resolved through per-request dataloaders, Relay connections paged in SQL, derived
//! views (ledger, aging, coverage, fees, plan totals), the AI context, limits and stable
//! error codes.
//!
//! The only crate that knows `async-graphql`. The server hands each request a [`Viewer`]
//! (from the caller's credential) and fresh [`loader::Loaders`]; see [`Api::execute`].
//! Subscriptions run over a transport-agnostic WebSocket session: see [`Api::websocket`].

use std::sync::Arc;

use async_graphql::extensions::{Extension, ExtensionContext, ExtensionFactory, NextParseQuery};
use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};
use async_graphql::{Schema, ServerError, ServerResult, Variables};
use enamel_store::Store;

mod audit;
pub mod connection;
pub mod context;
pub mod enums;
pub mod error;
pub mod global_id;
pub mod loader;
pub mod node;
pub mod phi;
mod plain;
pub mod present;
pub mod query;
pub mod subscription;
pub mod types;
pub mod viewer;
pub mod views;
pub mod writeback;

pub use error::{ApiError, Code};
pub use subscription::{WsFrame, WsProtocol};
pub use viewer::Viewer;

/// The schema type.
pub type EnamelSchema = Schema<query::Query, writeback::Mutation, subscription::Subscription>;

/// Limits on what one request may ask.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Deepest selection nesting.
    pub depth: usize,
    /// Largest complexity (one per field, connections weigh by their page size).
    pub complexity: usize,
    /// Most aliases in one document.
    pub aliases: usize,
    /// Most directives in one document (directive overloading).
    pub directives: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { depth: 12, complexity: 20_000, aliases: 30, directives: 20 }
    }
}

/// How the API is built.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// Limits.
    pub limits: Limits,
    /// Serve introspection and "did you mean" suggestions (the demo turns them on).
    pub introspection: bool,
    /// A fixed "now" for the views that depend on the date (aging, next visit, context);
    /// tests pin it, production leaves it unset.
    pub now: Option<chrono::DateTime<chrono::Utc>>,
    /// How long a dataloader waits for more keys after the first before it reads (default
    /// 1 ms, the timer's resolution: each level of a deep query waits it once). Siblings of
    /// a list register their keys in one pass, usually well within it.
    pub batch_delay: Option<std::time::Duration>,
    /// How often subscriptions read the store for changes (default 1 s).
    pub poll_interval: Option<std::time::Duration>,
    /// How long a WebSocket client has to send a `connection_init` the session accepts
    /// before it is closed (default 10 s).
    pub ws_init_timeout: Option<std::time::Duration>,
    /// How often an open WebSocket session authenticates its key again; a key revoked or
    /// expired since closes the session (default 10 s).
    pub ws_recheck: Option<std::time::Duration>,
}

/// The instant the views treat as now.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Now(pub(crate) Option<chrono::DateTime<chrono::Utc>>);

/// The API: a schema over a store.
#[derive(Clone)]
pub struct Api {
    schema: EnamelSchema,
    ws_schema: EnamelSchema,
    rules: DocumentRules,
    store: Store,
    audit: audit::AuditLog,
    plain: Arc<plain::Plain>,
    batch_delay: std::time::Duration,
    ws_init_timeout: std::time::Duration,
    ws_recheck: std::time::Duration,
}

impl Api {
    /// Builds the API over `store`, without write-backs (the `propose…` and decision
    /// mutations answer `INTERNAL`: not enabled).
    pub fn new(store: Store, options: Options) -> Api {
        Api::build(store, options, None)
    }

    /// Builds the API over `store` with the write-back queue behind the mutations.
    pub fn with_write_backs(store: Store, options: Options, write_backs: enamel_writeback::WriteBacks) -> Api {
        Api::build(store, options, Some(write_backs))
    }

    fn build(store: Store, options: Options, write_backs: Option<enamel_writeback::WriteBacks>) -> Api {
        let batch_delay = options.batch_delay.unwrap_or(std::time::Duration::from_millis(1));
        let seconds = std::time::Duration::from_secs;
        let data = Some((store.clone(), write_backs));
        Api {
            schema: schema(data.clone(), options, false),
            ws_schema: schema(data, options, true),
            rules: DocumentRules::of(&options),
            audit: audit::AuditLog::new(store.clone()),
            plain: Arc::default(),
            store,
            batch_delay,
            ws_init_timeout: options.ws_init_timeout.unwrap_or(seconds(10)),
            ws_recheck: options.ws_recheck.unwrap_or(seconds(10)),
        }
    }

    /// Runs one GraphQL request (JSON body already parsed) for `viewer` (None when the
    /// caller sent no valid credential: every field then answers `UNAUTHENTICATED`).
    pub async fn execute(&self, request: Request, viewer: Option<Viewer>) -> Response {
        let asked = request.operation_name.clone();
        let key = self.plain.key(&request.query, asked.as_deref());
        // A document async-graphql has answered without error may be answered plainly.
        let plainly = viewer.as_ref().filter(|v| v.has(enamel_domain::Scope::Read) && self.plain.vetted(key));
        let plain_input = plainly.map(|v| (v.practice_id(), v.practice.currency, request.variables.clone()));
        let mut req = async_graphql::Request::new(request.query).variables(Variables::from_json(request.variables));
        if let Some(name) = request.operation_name {
            req = req.operation_name(name);
        }
        let seen = phi::PhiSeen::default();
        let who = viewer.as_ref().map(|v| (v.practice_id(), v.credential.clone(), v.name.clone()));
        if let Some(v) = viewer {
            req = req
                .data(loader::loaders(self.store.clone(), v.practice_id(), self.batch_delay))
                .data(v)
                .data(seen.clone());
        }
        let (refused, operation) = match req.parsed_query() {
            Ok(doc) => (self.rules.check(doc).err(), operation_label(doc, asked.as_deref())),
            // Execution reports the syntax error.
            Err(_) => (None, "query".to_owned()),
        };
        if refused.is_none()
            && let Some((practice, currency, variables)) = plain_input
            && let Ok(doc) = req.parsed_query()
            && let Some(answer) =
                self.plain.run(&self.store, practice, currency, (asked.as_deref(), &variables), doc).await
        {
            self.plain.answered.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let body = Response { body: answer.body, errors: false };
            return self.audited(body, &answer.seen, who, operation).await;
        }
        let mut resp = match refused {
            Some(err) => async_graphql::Response::from_errors(vec![err]),
            None => self.schema.execute(req).await,
        };
        if resp.errors.is_empty() && who.is_some() {
            self.plain.vet(key);
        }
        for err in &mut resp.errors {
            coded(err);
        }
        self.audited(finish(resp), &seen, who, operation).await
    }

    /// The response, once the access to the patients it returned is audited; an error
    /// instead when the audit cannot be written.
    async fn audited(
        &self,
        response: Response,
        seen: &phi::PhiSeen,
        who: Option<(enamel_domain::PracticeId, String, String)>,
        operation: String,
    ) -> Response {
        // A response that returns patient data is audited before it is sent, or not sent.
        let Some((practice_id, credential, subject)) = who else {
            return response;
        };
        let patients = match seen.patients(&self.store, practice_id).await {
            Ok(patients) => patients,
            Err(e) => {
                tracing::error!(error = %e, "the patients of a response could not be read for the audit");
                return error_response(Code::Internal, "the access could not be audited, so no data is returned");
            }
        };
        if !patients.is_empty() {
            let event = enamel_domain::PhiAccess {
                id: uuid::Uuid::now_v7(),
                practice_id,
                at: chrono::Utc::now(),
                credential,
                subject,
                operation,
                patient_ids: patients,
            };
            if self.audit.record(event).await.is_err() {
                tracing::error!("a PHI access could not be audited; the response is withheld");
                return error_response(Code::Internal, "the access could not be audited, so no data is returned");
            }
        }
        response
    }

    /// How many requests the plain executor has answered (the rest went to async-graphql),
    /// for tests and diagnostics.
    pub fn plain_answers(&self) -> u64 {
        self.plain.answered.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The schema in SDL.
    pub fn sdl(&self) -> String {
        self.schema.sdl()
    }
}

/// The JSON answer, serialised once, straight from the executor's values.
fn finish(resp: async_graphql::Response) -> Response {
    let errors = resp.is_err();
    match serde_json::to_string(&resp) {
        Ok(body) => Response { body, errors },
        Err(e) => {
            tracing::error!(error = %e, "a response could not be serialised");
            error_response(Code::Internal, "internal error")
        }
    }
}

/// The operation's name for the audit: the one asked for, the document's only operation's
/// name, or its kind (`query`, `mutation`) when unnamed.
fn operation_label(doc: &ExecutableDocument, asked: Option<&str>) -> String {
    use async_graphql::parser::types::{DocumentOperations, OperationType};
    let kind = |t: OperationType| match t {
        OperationType::Query => "query",
        OperationType::Mutation => "mutation",
        OperationType::Subscription => "subscription",
    };
    match (&doc.operations, asked) {
        (_, Some(name)) => name.to_owned(),
        (DocumentOperations::Single(op), None) => kind(op.node.ty).to_owned(),
        (DocumentOperations::Multiple(ops), None) => match ops.iter().next() {
            Some((name, _)) if ops.len() == 1 => name.to_string(),
            _ => "query".to_owned(),
        },
    }
}

/// One GraphQL request.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Request {
    /// The document.
    pub query: String,
    /// Which operation of the document to run.
    #[serde(default)]
    pub operation_name: Option<String>,
    /// Variables.
    #[serde(default)]
    pub variables: serde_json::Value,
}

/// A GraphQL response, serialised as JSON.
#[derive(Debug, Clone)]
pub struct Response {
    body: String,
    errors: bool,
}

impl Response {
    /// The JSON text.
    pub fn body(&self) -> &str {
        &self.body
    }

    /// The JSON text, owned.
    pub fn into_body(self) -> String {
        self.body
    }

    /// Whether the response carries errors.
    pub fn has_errors(&self) -> bool {
        self.errors
    }

    /// The body parsed back into a JSON value (for tests and tools; the server sends the
    /// text).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

/// A response carrying only an error with a code (for failures before execution: a
/// malformed body, a batched request, an invalid credential).
pub fn error_response(code: Code, message: &str) -> Response {
    let body = serde_json::json!({"errors": [{"message": message, "extensions": {"code": code.as_str()}}]});
    Response { body: body.to_string(), errors: true }
}

/// The schema. `checked` adds the document rules as an async-graphql extension (for
/// WebSocket sessions, whose documents async-graphql parses itself); with any extension
/// registered every field resolves through the extension chain, so `Api::execute` checks
/// the rules on the parsed document instead.
fn schema(
    data: Option<(Store, Option<enamel_writeback::WriteBacks>)>,
    options: Options,
    checked: bool,
) -> EnamelSchema {
    let poll = options.poll_interval.unwrap_or(std::time::Duration::from_secs(1));
    let mut builder = Schema::build(query::Query, writeback::Mutation, subscription::Subscription)
        .limit_depth(options.limits.depth)
        .limit_complexity(options.limits.complexity)
        .data(Now(options.now))
        .data(subscription::PollInterval(poll));
    if checked {
        builder = builder.extension(DocumentRules::of(&options));
    }
    if !options.introspection {
        builder = builder.disable_introspection().disable_suggestions();
    }
    if let Some((store, write_backs)) = data {
        builder = builder.data(store);
        if let Some(w) = write_backs {
            builder = builder.data(w);
        }
    }
    builder.finish()
}

/// The schema in SDL, as committed in `schema.graphql`.
pub fn sdl() -> String {
    schema(None, Options::default(), false).sdl()
}

/// The GraphiQL page for an endpoint (a path such as `/graphql`), which also serves
/// subscriptions over WebSocket: the page turns the path into a `ws://` (or `wss://`) URL
/// on its own origin. Headers typed into GraphiQL go into the `connection_init` payload.
pub fn graphiql_html(endpoint: &str) -> String {
    async_graphql::http::GraphiQLSource::build()
        .endpoint(endpoint)
        .subscription_endpoint(endpoint)
        .title("Enamel GraphiQL")
        .finish()
}

/// Rules checked on every parsed document, before validation: at most so many aliases
/// (`LIMIT_EXCEEDED`), and no introspection unless the server serves it (`FORBIDDEN`,
/// where async-graphql alone would answer a silent null).
#[derive(Debug, Clone, Copy)]
struct DocumentRules {
    aliases: usize,
    directives: usize,
    introspection: bool,
}

impl DocumentRules {
    fn of(options: &Options) -> Self {
        DocumentRules {
            aliases: options.limits.aliases,
            directives: options.limits.directives,
            introspection: options.introspection,
        }
    }

    /// Refuses documents with too many aliases or directives, or with introspection the
    /// server does not serve.
    fn check(&self, doc: &ExecutableDocument) -> Result<(), ServerError> {
        let count = |f: &dyn Fn(&async_graphql::parser::types::Field) -> usize| -> usize {
            doc.operations.iter().map(|(_, op)| count_fields(&op.node.selection_set.node, doc, 0, f)).sum()
        };
        let aliases = count(&|f| usize::from(f.alias.is_some()));
        if aliases > self.aliases {
            let message = format!("the document has {aliases} aliases; at most {} are allowed", self.aliases);
            return Err(refusal(Code::LimitExceeded, message));
        }
        let directives = count(&|f| f.directives.len())
            + doc.operations.iter().map(|(_, op)| op.node.directives.len()).sum::<usize>()
            + doc.fragments.values().map(|f| f.node.directives.len()).sum::<usize>();
        if directives > self.directives {
            let message = format!("the document has {directives} directives; at most {} are allowed", self.directives);
            return Err(refusal(Code::LimitExceeded, message));
        }
        if !self.introspection && count(&|f| usize::from(matches!(f.name.node.as_str(), "__schema" | "__type"))) > 0 {
            return Err(refusal(Code::Forbidden, "introspection is disabled on this server".to_owned()));
        }
        Ok(())
    }
}

impl ExtensionFactory for DocumentRules {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(*self)
    }
}

/// Sums `count` over every field of a selection set, fragments included.
fn count_fields(
    set: &SelectionSet,
    doc: &ExecutableDocument,
    depth: usize,
    count: &dyn Fn(&async_graphql::parser::types::Field) -> usize,
) -> usize {
    if depth > 64 {
        return 0;
    }
    set.items
        .iter()
        .map(|item| match &item.node {
            Selection::Field(f) => count(&f.node) + count_fields(&f.node.selection_set.node, doc, depth + 1, count),
            Selection::InlineFragment(i) => count_fields(&i.node.selection_set.node, doc, depth + 1, count),
            Selection::FragmentSpread(s) => doc
                .fragments
                .get(&s.node.fragment_name.node)
                .map_or(0, |f| count_fields(&f.node.selection_set.node, doc, depth + 1, count)),
        })
        .sum()
}

/// Gives an error async-graphql raised itself (parse and validation errors, the depth and
/// complexity limits) a code from our table; errors of our resolvers already carry one.
fn coded(err: &mut ServerError) {
    if err.extensions.as_ref().is_some_and(|e| e.get("code").is_some()) {
        return;
    }
    let code = if err.message.contains("nested too deep") || err.message.contains("too complex") {
        Code::LimitExceeded
    } else {
        Code::BadUserInput
    };
    err.extensions.get_or_insert_with(Default::default).set("code", code.as_str());
}

fn refusal(code: Code, message: String) -> ServerError {
    let mut err = ServerError::new(message, None);
    let mut ext = async_graphql::ErrorExtensionValues::default();
    ext.set("code", code.as_str());
    err.extensions = Some(ext);
    err
}

#[async_trait::async_trait]
impl Extension for DocumentRules {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let doc = next.run(ctx, query, variables).await?;
        self.check(&doc)?;
        Ok(doc)
    }
}
