//! The public web card: what a phone sees when it scans a robot's label.
//! A thin edge over the same read and conversion the public `GetRobot`
//! answers with (the store's robot, [`crate::api::public_view`]), served on
//! the registry's public HTTP listener.
//!
//! | route | answers |
//! |---|---|
//! | `GET /r/{code}` | the card: HTML, ProtoJSON of the public `Robot` (`Accept: application/json`) or an RFC 9264 linkset (`Accept: application/linkset+json`, or `?linkType=linkset`); a code in another form redirects to the canonical one |
//! | `GET /r/{code}/credential` | the robot's signed ID credential, `application/cose` |
//! | `GET /keys` | the keys that signed the credentials served here, a JWK set |
//! | `GET /r?code=…` | the start page's form: redirects to the card |
//! | `GET /` | the start page |
//!
//! Privacy by construction: nothing here reads the client's address (the
//! listener never hands it to a handler), its user agent or its referrer;
//! no request is logged one by one; no cookie is set.

mod assets;
mod card;
mod lang;
mod negotiate;
mod page;
pub mod proof;
pub mod protojson;

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine;
use http::{HeaderMap, HeaderValue, StatusCode, header};
use robotid_credential::VerifyingKey;
use robotid_domain::code::{CodeError, CountryCode, RobotId};
use robotid_domain::history::ChainVerdict;
use robotid_platform::error::ApiError;
use robotid_proto::registry::v1 as pb;
use sha2::{Digest, Sha256};
use tonic::Code;

use crate::api::{ERROR_DOMAIN, public_view};
use crate::store::RegistryStore;
use assets::Assets;
use card::CardView;
use lang::Lang;
use negotiate::{Format, QueryParams};

/// Every page: nothing but this origin's own script and style, no frames,
/// no referrer.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// How long a card may be reused without asking again: a robot reported
/// stolen shows as such within this many seconds, and a revalidation after
/// it costs a 304 when nothing changed.
pub const CARD_MAX_AGE_SECONDS: u32 = 5;

const CARD_CACHE: &str = "public, max-age=5";
/// A mistyped code stays mistyped.
const MISTYPED_CACHE: &str = "public, max-age=3600";
const ASSET_CACHE: &str = "public, max-age=31536000, immutable";
/// A stored credential never changes.
const CREDENTIAL_CACHE: &str = "public, max-age=86400";
const KEYS_CACHE: &str = "public, max-age=300";

/// The card's state: the registry's store and who it is.
pub struct Web {
    store: RegistryStore,
    home: CountryCode,
    public_url: String,
    own_key: Option<VerifyingKey>,
    assets: Assets,
}

impl Web {
    /// `public_url` without a trailing slash; `own_key` is the registry's
    /// credential-signing key, published at `/keys`.
    pub fn new(
        store: RegistryStore,
        home: CountryCode,
        public_url: String,
        own_key: Option<VerifyingKey>,
    ) -> Self {
        Self {
            store,
            home,
            public_url: public_url.trim_end_matches('/').to_owned(),
            own_key,
            assets: Assets::new(),
        }
    }

    pub fn public_url(&self) -> &str {
        &self.public_url
    }
}

/// The card's routes, for the public HTTP listener.
pub fn router(web: Web) -> Router {
    Router::new()
        .route("/", get(start))
        .route("/r", get(lookup))
        .route("/r/{code}", get(robot_card))
        .route("/r/{code}/credential", get(credential))
        .route("/r/{code}/proof", get(proof_bundle))
        .route("/keys", get(keys))
        .route("/assets/card.css", get(css))
        .route("/assets/card.js", get(js))
        .route("/assets/icon.svg", get(icon))
        .route("/favicon.ico", get(icon))
        .fallback(not_found)
        .layer(axum::middleware::map_response(security_headers))
        .with_state(Arc::new(web))
}

async fn security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    response
}

/// A response with its validator: a request whose `If-None-Match` names
/// the body's hash is answered 304, without the body.
struct Answer {
    status: StatusCode,
    content_type: &'static str,
    body: Vec<u8>,
    cache: &'static str,
    headers: Vec<(header::HeaderName, HeaderValue)>,
}

impl Answer {
    fn new(status: StatusCode, content_type: &'static str, body: Vec<u8>) -> Self {
        Self {
            status,
            content_type,
            body,
            cache: CARD_CACHE,
            headers: Vec::new(),
        }
    }

    fn cache(mut self, cache: &'static str) -> Self {
        self.cache = cache;
        self
    }

    fn header(mut self, name: header::HeaderName, value: &str) -> Self {
        if let Ok(value) = HeaderValue::from_str(value) {
            self.headers.push((name, value));
        }
        self
    }

    /// For content that depends on the language and the format asked.
    fn negotiated(self, lang: Lang) -> Self {
        self.header(header::CONTENT_LANGUAGE, lang.tag())
            .header(header::VARY, "Accept, Accept-Language")
    }

    /// Public data: any app may read it from its own origin.
    fn shared(self) -> Self {
        self.header(header::ACCESS_CONTROL_ALLOW_ORIGIN, "*")
    }

    fn respond(self, request: &HeaderMap) -> Response {
        let etag = format!("\"{}\"", hex::encode(&Sha256::digest(&self.body)[..10]));
        let fresh = self.status == StatusCode::OK
            && request
                .get_all(header::IF_NONE_MATCH)
                .iter()
                .filter_map(|value| value.to_str().ok())
                .flat_map(|value| value.split(','))
                .map(|tag| tag.trim().trim_start_matches("W/"))
                .any(|tag| tag == etag || tag == "*");
        let status = if fresh {
            StatusCode::NOT_MODIFIED
        } else {
            self.status
        };
        let body = if fresh { Vec::new() } else { self.body };
        let mut response = (status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(self.content_type),
        );
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(self.cache));
        if self.status == StatusCode::OK
            && let Ok(etag) = HeaderValue::from_str(&etag)
        {
            headers.insert(header::ETAG, etag);
        }
        for (name, value) in self.headers {
            headers.append(name, value);
        }
        response
    }
}

const HTML: &str = "text/html; charset=utf-8";
const JSON: &str = "application/json";
const LINKSET: &str = "application/linkset+json";

/// `?lang=`, else `Accept-Language`, else English.
fn language(params: &QueryParams, headers: &HeaderMap) -> Lang {
    Lang::choose(
        params.get("lang"),
        header_text(headers, header::ACCEPT_LANGUAGE),
    )
}

fn header_text(headers: &HeaderMap, name: header::HeaderName) -> Option<&str> {
    headers.get(name).and_then(|value| value.to_str().ok())
}

impl Web {
    fn frame(&self, lang: Lang, path: String, head: String) -> page::Frame<'_> {
        page::Frame {
            lang,
            assets: &self.assets,
            country: self.home.as_str(),
            public_url: &self.public_url,
            path,
            head: format!(
                "<link rel=\"icon\" href=\"/assets/icon.svg\" type=\"image/svg+xml\">\n{head}"
            ),
        }
    }

    fn card_url(&self, id: &RobotId) -> String {
        format!("{}/r/{}", self.public_url, id.as_str())
    }

    fn linkset_link(&self, id: &RobotId) -> String {
        format!(
            "<{}?linkType=linkset>; rel=\"linkset\"; type=\"{LINKSET}\"",
            self.card_url(id)
        )
    }

    /// A code that does not parse: 400, saying what is wrong.
    /// The robot of `/r/{code}/{resource}`: a mistyped code is answered
    /// in JSON, another spelling of a good one redirected to the canonical
    /// path.
    fn resource_id(
        &self,
        code: &str,
        resource: &str,
        headers: &HeaderMap,
    ) -> Result<RobotId, Box<Response>> {
        let id = RobotId::parse_at(code, &self.home).map_err(|error| {
            Box::new(
                self.mistyped(Format::Json, Lang::En, code, &error)
                    .respond(headers),
            )
        })?;
        if code != id.as_str() {
            return Err(Box::new(redirect(
                format!("/r/{}/{resource}", id.as_str()),
                ASSET_CACHE_REDIRECT,
            )));
        }
        Ok(id)
    }

    fn mistyped(&self, format: Format, lang: Lang, input: &str, error: &CodeError) -> Answer {
        match format {
            Format::Html => {
                let frame = self.frame(lang, "/".into(), String::new());
                Answer::new(
                    StatusCode::BAD_REQUEST,
                    HTML,
                    page::mistyped(&frame, input, error).into_bytes(),
                )
                .negotiated(lang)
            }
            Format::Json | Format::Linkset => {
                let api = code_error(error);
                Answer::new(StatusCode::BAD_REQUEST, JSON, error_json(&api, 400))
                    .negotiated(lang)
                    .shared()
            }
        }
        .cache(MISTYPED_CACHE)
    }

    /// A well-formed code this registry does not know: 404.
    fn unknown(&self, format: Format, lang: Lang, id: &RobotId) -> Answer {
        match format {
            Format::Html => {
                let frame = self.frame(lang, format!("/r/{}", id.as_str()), String::new());
                Answer::new(
                    StatusCode::NOT_FOUND,
                    HTML,
                    page::unknown(&frame, &id.display()).into_bytes(),
                )
                .negotiated(lang)
            }
            Format::Json | Format::Linkset => {
                let api = ApiError::not_found("ROBOT_NOT_FOUND", format!("robots/{id}"))
                    .with_metadata("robot_id", id.as_str());
                Answer::new(StatusCode::NOT_FOUND, JSON, error_json(&api, 404))
                    .negotiated(lang)
                    .shared()
            }
        }
    }

    fn linkset(&self, robot: &pb::Robot, id: &RobotId, has_credential: bool) -> Vec<u8> {
        let card = self.card_url(id);
        let mut links = serde_json::Map::new();
        links.insert("anchor".into(), card.clone().into());
        links.insert(
            "https://gs1.org/voc/defaultLink".into(),
            serde_json::json!([{
                "href": card,
                "type": "text/html",
                "title": format!("Public card of robot {}", robot.display_id),
                "hreflang": Lang::ALL.iter().map(|lang| lang.tag()).collect::<Vec<_>>(),
            }]),
        );
        links.insert(
            "alternate".into(),
            serde_json::json!([{
                "href": card,
                "type": JSON,
                "title": "The public Robot message as ProtoJSON",
            }]),
        );
        if has_credential {
            links.insert(
                "https://gs1.org/voc/certificationInfo".into(),
                serde_json::json!([{
                    "href": format!("{card}/credential"),
                    "type": "application/cose",
                    "title": "Signed ID credential (COSE_Sign1); keys at /keys",
                }]),
            );
        }
        let recalls = CardView::from_public(robot).recalls;
        if !recalls.is_empty() {
            let notices: Vec<serde_json::Value> = recalls
                .iter()
                .enumerate()
                .map(|(i, recall)| {
                    serde_json::json!({
                        "href": format!("{card}#recall-{}", i + 1),
                        "type": "text/html",
                        "title": if recall.name.is_empty() { "Open recall".to_owned() } else { recall.name.clone() },
                    })
                })
                .collect();
            links.insert("https://gs1.org/voc/recallStatus".into(), notices.into());
        }
        let linkset = serde_json::json!({ "linkset": [links] });
        serde_json::to_vec(&linkset).expect("a JSON value serialises")
    }

    /// The HTML card of a robot read from the store (`stored`) and its
    /// public view (`robot`): two more reads, its credential's presence and
    /// its history, which the page verifies.
    async fn html_card(
        &self,
        lang: Lang,
        stored: &robotid_domain::robot::Robot,
        robot: &pb::Robot,
        id: &RobotId,
    ) -> Result<Vec<u8>, ApiError> {
        let has_credential = self.store.credential(id).await?.is_some();
        let history = match self.store.verify_read(stored).await? {
            ChainVerdict::Intact { .. } => page::History::Intact,
            ChainVerdict::Broken { .. } => page::History::Broken,
        };
        let view = CardView::from_public(robot);
        let script = if has_credential {
            format!(
                "<script src=\"{}\" defer></script>\n",
                self.assets.js_href()
            )
        } else {
            String::new()
        };
        let head = format!(
            "<link rel=\"linkset\" type=\"{LINKSET}\" href=\"/r/{id}?linkType=linkset\">\n\
             <link rel=\"alternate\" type=\"{JSON}\" href=\"/r/{id}\">\n{script}",
            id = id.as_str()
        );
        let frame = self.frame(lang, format!("/r/{}", id.as_str()), head);
        let card = page::Card {
            view: &view,
            history,
            has_credential,
        };
        Ok(page::card(&frame, &card).into_bytes())
    }
}

/// The machine-readable form of a code error: AIP-193's `ErrorInfo` with a
/// reason per kind of mistake, and the field violation.
fn code_error(error: &CodeError) -> ApiError {
    let reason = match error {
        CodeError::Empty => "ROBOT_ID_EMPTY",
        CodeError::Length { .. } => "ROBOT_ID_LENGTH",
        CodeError::Character { .. } => "ROBOT_ID_CHARACTER",
        CodeError::Separator { .. } => "ROBOT_ID_SEPARATOR",
        CodeError::CheckCharacter { .. } => "ROBOT_ID_MISTYPED",
        CodeError::SegmentLength { .. } => "ROBOT_ID_SEGMENT_LENGTH",
    };
    let message = error.to_string();
    let api = ApiError::new(
        Code::InvalidArgument,
        reason,
        format!("robot_id: {message}"),
    )
    .with_metadata("field", "robot_id")
    .with_field_violation("robot_id", message);
    match error {
        CodeError::Length { found } => api.with_metadata("found", found.to_string()),
        CodeError::Character {
            segment,
            position,
            found,
        } => api
            .with_metadata("segment", segment.to_string())
            .with_metadata("position", position.to_string())
            .with_metadata("found", found.to_string()),
        CodeError::Separator { position } => api.with_metadata("position", position.to_string()),
        CodeError::CheckCharacter { .. } => api
            .with_metadata("segment", "serial")
            .with_metadata("position", "29"),
        CodeError::SegmentLength {
            segment,
            expected,
            found,
        } => api
            .with_metadata("segment", segment.to_string())
            .with_metadata("expected", expected.to_string())
            .with_metadata("found", found.to_string()),
        CodeError::Empty => api,
    }
}

/// An error as JSON, the way Google's HTTP APIs map AIP-193 errors:
/// `{"error": {"code", "message", "status", "details": [ErrorInfo, BadRequest]}}`.
fn error_json(error: &ApiError, http_code: u16) -> Vec<u8> {
    let status = error.clone().into_status(ERROR_DOMAIN);
    use tonic_types::StatusExt;
    let mut details = Vec::new();
    if let Some(info) = status.get_details_error_info() {
        details.push(serde_json::json!({
            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
            "reason": info.reason,
            "domain": info.domain,
            "metadata": info.metadata,
        }));
    }
    if let Some(bad) = status.get_details_bad_request() {
        let violations: Vec<serde_json::Value> = bad
            .field_violations
            .iter()
            .map(|v| serde_json::json!({"field": v.field, "description": v.description}))
            .collect();
        details.push(serde_json::json!({
            "@type": "type.googleapis.com/google.rpc.BadRequest",
            "fieldViolations": violations,
        }));
    }
    let body = serde_json::json!({
        "error": {
            "code": http_code,
            "message": status.message(),
            "status": grpc_status_name(status.code()),
            "details": details,
        }
    });
    serde_json::to_vec(&body).expect("a JSON value serialises")
}

fn grpc_status_name(code: Code) -> &'static str {
    match code {
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::NotFound => "NOT_FOUND",
        Code::Unavailable => "UNAVAILABLE",
        _ => "INTERNAL",
    }
}

/// A failure to read: the database is down (503, retry) or worse (500).
fn unavailable(error: &ApiError) -> Response {
    let status = if error.code() == Code::Unavailable {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::INTERNAL_SERVER_ERROR
    };
    (
        status,
        [
            (header::CACHE_CONTROL, "no-store"),
            (header::RETRY_AFTER, "1"),
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
        ],
        "the registry cannot answer right now; try again in a moment\n",
    )
        .into_response()
}

fn redirect(location: String, cache: &'static str) -> Response {
    (
        StatusCode::MOVED_PERMANENTLY,
        [
            (header::LOCATION, location),
            (header::CACHE_CONTROL, cache.to_owned()),
            (header::VARY, "Accept, Accept-Language".to_owned()),
        ],
    )
        .into_response()
}

async fn robot_card(
    State(web): State<Arc<Web>>,
    Path(code): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let params = QueryParams::parse(query.as_deref());
    let lang = language(&params, &headers);
    let format = match params.get("linkType") {
        Some("linkset" | "all") => Format::Linkset,
        _ => match negotiate::format(header_text(&headers, header::ACCEPT)) {
            Some(format) => format,
            None => return not_acceptable(),
        },
    };
    let id = match RobotId::parse_at(&code, &web.home) {
        Ok(id) => id,
        Err(error) => return web.mistyped(format, lang, &code, &error).respond(&headers),
    };
    if code != id.as_str() {
        let query = query.map(|q| format!("?{q}")).unwrap_or_default();
        return redirect(format!("/r/{}{query}", id.as_str()), ASSET_CACHE_REDIRECT);
    }
    // The read GetRobot's public view makes, and its conversion.
    let stored = match web.store.robot(&id).await {
        Ok(Some(stored)) => stored,
        Ok(None) => return web.unknown(format, lang, &id).respond(&headers),
        Err(error) => return unavailable(&error),
    };
    let robot = match public_view(&web.store, &stored).await {
        Ok(robot) => robot,
        Err(error) => return unavailable(&error),
    };
    let answer = match format {
        // One read: the JSON is the message, nothing else.
        Format::Json => match protojson::to_json(&robot, "robotid.registry.v1.Robot") {
            Ok(json) => Answer::new(StatusCode::OK, JSON, json).shared(),
            Err(error) => return unavailable(&ApiError::internal(&error)),
        },
        Format::Linkset => match web.store.credential(&id).await {
            Ok(credential) => Answer::new(
                StatusCode::OK,
                LINKSET,
                web.linkset(&robot, &id, credential.is_some()),
            )
            .shared(),
            Err(error) => return unavailable(&error),
        },
        Format::Html => match web.html_card(lang, &stored, &robot, &id).await {
            Ok(html) => Answer::new(StatusCode::OK, HTML, html),
            Err(error) => return unavailable(&error),
        },
    };
    answer
        .negotiated(lang)
        .header(header::LINK, &web.linkset_link(&id))
        .respond(&headers)
}

/// Redirects from a typed form of a code to its canonical URL never change.
const ASSET_CACHE_REDIRECT: &str = "public, max-age=86400";

fn not_acceptable() -> Response {
    (
        StatusCode::NOT_ACCEPTABLE,
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (header::VARY, "Accept"),
        ],
        "this card is text/html, application/json or application/linkset+json\n",
    )
        .into_response()
}

/// The start page's form: `/r?code=…` goes to the card of the code typed.
async fn lookup(
    State(web): State<Arc<Web>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let params = QueryParams::parse(query.as_deref());
    let lang = language(&params, &headers);
    let code = params.get("code").unwrap_or_default();
    match RobotId::parse_at(code, &web.home) {
        Ok(id) => {
            let query = params
                .get("lang")
                .map(|tag| format!("?lang={}", lang::Lang::choose(Some(tag), None).tag()))
                .unwrap_or_default();
            (
                StatusCode::SEE_OTHER,
                [
                    (header::LOCATION, format!("/r/{}{query}", id.as_str())),
                    (header::CACHE_CONTROL, "no-store".to_owned()),
                ],
            )
                .into_response()
        }
        Err(error) => web
            .mistyped(Format::Html, lang, code, &error)
            .respond(&headers),
    }
}

async fn start(
    State(web): State<Arc<Web>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let params = QueryParams::parse(query.as_deref());
    let lang = language(&params, &headers);
    let frame = web.frame(lang, "/".into(), String::new());
    Answer::new(StatusCode::OK, HTML, page::start(&frame).into_bytes())
        .cache("public, max-age=3600")
        .negotiated(lang)
        .respond(&headers)
}

async fn credential(
    State(web): State<Arc<Web>>,
    Path(code): Path<String>,
    headers: HeaderMap,
) -> Response {
    let id = match web.resource_id(&code, "credential", &headers) {
        Ok(id) => id,
        Err(answer) => return *answer,
    };
    match web.store.credential(&id).await {
        Ok(Some(credential)) => Answer::new(StatusCode::OK, "application/cose", credential)
            .cache(CREDENTIAL_CACHE)
            .shared()
            .respond(&headers),
        Ok(None) => {
            let api =
                ApiError::not_found("CREDENTIAL_NOT_FOUND", format!("robots/{id}/credential"))
                    .with_metadata("robot_id", id.as_str());
            Answer::new(StatusCode::NOT_FOUND, JSON, error_json(&api, 404))
                .shared()
                .respond(&headers)
        }
        Err(error) => unavailable(&error),
    }
}

/// The robot's proof bundle: its newest event, under the newest cosigned
/// checkpoint that holds it (`?witness=NAME`: the newest that witness
/// cosigned). It changes with every event: as fresh as the card.
async fn proof_bundle(
    State(web): State<Arc<Web>>,
    Path(code): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let params = QueryParams::parse(query.as_deref());
    let id = match web.resource_id(&code, "proof", &headers) {
        Ok(id) => id,
        Err(answer) => return *answer,
    };
    let robot = match web.store.robot(&id).await {
        Ok(Some(robot)) => robot,
        Ok(None) => {
            let api = ApiError::not_found("ROBOT_NOT_FOUND", format!("robots/{id}"))
                .with_metadata("robot_id", id.as_str());
            return Answer::new(StatusCode::NOT_FOUND, JSON, error_json(&api, 404))
                .cache(CARD_CACHE)
                .respond(&headers);
        }
        Err(error) => return unavailable(&error),
    };
    match proof::bundle_of(&web.store, &robot, params.get("witness")).await {
        Ok(bundle) => Answer::new(
            StatusCode::OK,
            proof::CONTENT_TYPE,
            bundle.bundle.into_bytes(),
        )
        .cache(CARD_CACHE)
        .shared()
        .respond(&headers),
        Err(error) if error.code() == Code::FailedPrecondition => {
            Answer::new(StatusCode::NOT_FOUND, JSON, error_json(&error, 404)).respond(&headers)
        }
        Err(error) => unavailable(&error),
    }
}

/// The keys that signed the credentials served here, as a JWK set (RFC
/// 7517, Ed25519 keys as RFC 8037 writes them): `kid` is the 16-hex-digit
/// key id the credentials name, `robotid_country` the registry that holds
/// the key, `robotid_use` whether it is this registry's own key or a
/// foreign one that verified an imported robot.
async fn keys(State(web): State<Arc<Web>>, headers: HeaderMap) -> Response {
    let foreign = match web.store.foreign_credential_keys().await {
        Ok(keys) => keys,
        Err(error) => return unavailable(&error),
    };
    let jwk = |key: &VerifyingKey, country: &str, usage: &str| {
        serde_json::json!({
            "kty": "OKP",
            "crv": "Ed25519",
            "alg": "EdDSA",
            "use": "sig",
            "kid": key.kid().to_string(),
            "x": base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(key.to_bytes()),
            "robotid_country": country,
            "robotid_use": usage,
        })
    };
    let mut keys = Vec::new();
    if let Some(own) = &web.own_key {
        keys.push(jwk(own, web.home.as_str(), "own"));
    }
    for (bytes, country) in &foreign {
        if let Ok(key) = VerifyingKey::from_bytes(bytes)
            && web.own_key.is_none_or(|own| own.kid() != key.kid())
        {
            keys.push(jwk(&key, country, "imported"));
        }
    }
    let body =
        serde_json::to_vec(&serde_json::json!({ "keys": keys })).expect("a JSON value serialises");
    Answer::new(StatusCode::OK, "application/jwk-set+json", body)
        .cache(KEYS_CACHE)
        .shared()
        .respond(&headers)
}

/// A file built into the binary.
fn asset(
    headers: &HeaderMap,
    content_type: &'static str,
    body: &str,
    cache: &'static str,
) -> Response {
    Answer::new(StatusCode::OK, content_type, body.into())
        .cache(cache)
        .respond(headers)
}

async fn css(headers: HeaderMap) -> Response {
    asset(
        &headers,
        "text/css; charset=utf-8",
        assets::CSS,
        ASSET_CACHE,
    )
}

async fn js(headers: HeaderMap) -> Response {
    asset(
        &headers,
        "text/javascript; charset=utf-8",
        assets::JS,
        ASSET_CACHE,
    )
}

async fn icon(headers: HeaderMap) -> Response {
    asset(
        &headers,
        "image/svg+xml",
        assets::ICON,
        "public, max-age=86400",
    )
}

async fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=60"),
        ],
        "not found\n",
    )
        .into_response()
}
