//! The public web card over real HTTP, on the registry's public listener,
//! against the same robots gRPC serves, on SQLite and PostgreSQL.

mod support;

use robotid_credential::{SigningKey, sign_id_credential};
use robotid_domain::code::RobotId;
use robotid_domain::time::Timestamp;
use robotid_proto::common::v1::EventType;
use robotid_proto::registry::v1 as pb;
use robotid_registry::web::protojson;
use robotid_test_support::http::{HttpResponse, get};
use robotid_test_support::{TestDb, each_backend};
use support::*;

each_backend!(
    the_json_card_is_the_grpc_public_view,
    the_html_card_warns_first_in_the_asked_language,
    a_stolen_flag_shows_at_the_next_revalidation,
    the_linkset_credential_and_keys_are_served,
    typed_forms_redirect_and_bad_codes_say_what_is_wrong,
    reading_cards_leaves_no_trace,
);

const JSON: (&str, &str) = ("Accept", "application/json");

struct Web {
    registry: TestRegistry,
    http: std::net::SocketAddr,
    key: SigningKey,
    _dir: tempfile::TempDir,
}

/// A registry with its public listener and its credential key published.
async fn spawn(db: TestDb) -> Web {
    let key = SigningKey::from_seed(&[7; 32]);
    let dir = tempfile::tempdir().unwrap();
    let public_key = dir.path().join("signing-key.pub.pem");
    std::fs::write(&public_key, key.verifying_key().to_pem()).unwrap();
    let registry = spawn_registry_with(db, |config| {
        config.http_listen = Some("127.0.0.1:0".parse().unwrap());
        config.credential_public_key_file = Some(public_key.clone());
    })
    .await;
    let http = registry.http.expect("the public listener is bound");
    Web {
        registry,
        http,
        key,
        _dir: dir,
    }
}

impl Web {
    /// Registers robot `n` with its signed credential.
    async fn register(&mut self, n: u64) -> (RobotId, Vec<u8>) {
        let id = robot(n);
        let credential = sign_id_credential(&self.key, &id, Timestamp::now());
        let mut registration = registration(&id);
        registration.credential = credential.clone();
        self.registry
            .as_("issuance")
            .await
            .register_robots(pb::RegisterRobotsRequest {
                request_id: unique("register"),
                robots: vec![registration],
                on_behalf_of: String::new(),
            })
            .await
            .expect("registered");
        (id, credential)
    }

    async fn get(&self, path: &str, headers: &[(&str, &str)]) -> HttpResponse {
        get(self.http, path, headers).await
    }

    async fn card(&self, id: &RobotId, headers: &[(&str, &str)]) -> HttpResponse {
        self.get(&format!("/r/{}", id.as_str()), headers).await
    }

    async fn recall(&self, id: &RobotId, reason: &str) -> pb::Recall {
        self.registry
            .as_("manufacturer")
            .await
            .create_recall(pb::CreateRecallRequest {
                request_id: unique("recall"),
                manufacturer_code: id.manufacturer().as_str().into(),
                model_code: id.model().as_str().into(),
                robot_ids: vec![id.as_str().into()],
                reason: reason.into(),
                country_code: id.country().as_str().into(),
            })
            .await
            .expect("recalled")
            .into_inner()
    }
}

async fn the_json_card_is_the_grpc_public_view(db: TestDb) {
    let mut web = spawn(db).await;
    let (id, _) = web.register(1).await;
    web.registry
        .record(&id, EventType::ReleasedToMarket, Default::default())
        .await
        .unwrap();
    let recall = web.recall(&id, "battery may overheat").await;

    let answer = web.card(&id, &[JSON]).await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert_eq!(answer.header("content-type"), Some("application/json"));
    let grpc = web
        .registry
        .get(id.as_str(), pb::RobotView::Public)
        .await
        .unwrap();
    // Decoded from the JSON, field by field the message gRPC answers.
    let from_json: pb::Robot = protojson::from_json(&answer.body, "robotid.registry.v1.Robot")
        .expect("ProtoJSON of the Robot message");
    assert_eq!(from_json, grpc);
    // Written as protojson writes it: lowerCamelCase, enums by name,
    // RFC 3339 times, defaults left out.
    let json = answer.json();
    assert_eq!(json["robotId"], id.as_str());
    assert_eq!(json["displayId"], id.display());
    assert_eq!(json["status"], "ROBOT_STATUS_IN_MARKET");
    assert_eq!(json["recalled"], true);
    assert_eq!(json["openRecall"], recall.name.as_str());
    assert_eq!(json["view"], "ROBOT_VIEW_PUBLIC");
    assert_eq!(json["jurisdiction"], "JURISDICTION_DOMESTIC");
    assert_eq!(json["production"]["productionTime"], "2025-11-24T16:00:00Z");
    assert!(json.get("stolen").is_none(), "false is a default: {json}");
    assert!(json.get("holder").is_none() && json.get("eventCount").is_none());
}

async fn the_html_card_warns_first_in_the_asked_language(db: TestDb) {
    let mut web = spawn(db).await;
    let (id, _) = web.register(2).await;
    web.registry
        .record(&id, EventType::ReleasedToMarket, Default::default())
        .await
        .unwrap();
    web.registry
        .record(&id, EventType::ReportedStolen, Default::default())
        .await
        .unwrap();
    let recall = web.recall(&id, "joint torque limit").await;

    let english = web.card(&id, &[("Accept", "text/html")]).await;
    assert_eq!(english.status, 200);
    assert_eq!(
        english.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert_eq!(english.header("content-language"), Some("en"));
    assert_eq!(english.header("vary"), Some("Accept, Accept-Language"));
    assert_eq!(english.header("cache-control"), Some("public, max-age=5"));
    assert!(english.header("etag").is_some());
    assert!(english.header("set-cookie").is_none());
    let csp = english.header("content-security-policy").unwrap();
    assert!(csp.contains("default-src 'none'") && csp.contains("script-src 'self'"));
    assert!(!csp.contains("unsafe-inline"));
    assert!(english.header("link").unwrap().contains("rel=\"linkset\""));
    let html = english.text();
    // The warnings come before the card's title, in words.
    let stolen = html
        .find("STOLEN: reported stolen")
        .expect("a stolen warning");
    let recalled = html
        .find("RECALLED: open recall")
        .expect("a recall warning");
    let title = html.find("<h1>").unwrap();
    assert!(stolen < recalled && recalled < title, "{html}");
    assert!(html.contains(&recall.name));
    for text in [
        "Hubei Humanoid Works",
        "(0001)",
        "SeeLight S1",
        "(HX0001)",
        "2025-11-24",
        "On the market: released for sale",
        "In China (CN), registered here",
        "Verified: the registry checked",
        "Not recorded by this registry",
        "Privacy: this page sets no cookies",
        &id.display(),
    ] {
        assert!(html.contains(text), "{text:?} missing from\n{html}");
    }
    // No inline script or style: the CSP would refuse them anyway.
    assert!(!html.contains("<script>") && !html.contains("style="));

    let german = web
        .card(&id, &[("Accept-Language", "de-DE,de;q=0.9,en;q=0.5")])
        .await;
    assert_eq!(german.header("content-language"), Some("de"));
    assert!(german.text().contains("GESTOHLEN: als gestohlen gemeldet"));
    assert!(german.text().contains("<html lang=\"de\">"));
    let chinese = web.get(&format!("/r/{}?lang=zh", id.as_str()), &[]).await;
    assert_eq!(chinese.header("content-language"), Some("zh"));
    assert!(chinese.text().contains("被盗：已报告被盗"));
}

async fn a_stolen_flag_shows_at_the_next_revalidation(db: TestDb) {
    let mut web = spawn(db).await;
    let (id, _) = web.register(3).await;
    let first = web.card(&id, &[]).await;
    let etag = first.header("etag").unwrap().to_owned();
    // Unchanged: a revalidation costs a 304 and no body.
    let again = web.card(&id, &[("If-None-Match", &etag)]).await;
    assert_eq!(again.status, 304);
    assert!(again.body.is_empty());
    assert_eq!(again.header("etag"), Some(etag.as_str()));

    web.registry
        .record(&id, EventType::ReportedStolen, Default::default())
        .await
        .unwrap();
    let changed = web.card(&id, &[("If-None-Match", &etag)]).await;
    assert_eq!(changed.status, 200);
    assert_ne!(changed.header("etag"), Some(etag.as_str()));
    assert!(changed.text().contains("STOLEN"));
    let json = web.card(&id, &[JSON]).await.json();
    assert_eq!(json["stolen"], true);
}

async fn the_linkset_credential_and_keys_are_served(db: TestDb) {
    let mut web = spawn(db).await;
    let (id, credential) = web.register(4).await;
    let recall = web.recall(&id, "firmware rollback").await;
    let card_path = format!("/r/{}", id.as_str());

    let by_query = web.get(&format!("{card_path}?linkType=linkset"), &[]).await;
    let by_accept = web
        .card(&id, &[("Accept", "application/linkset+json")])
        .await;
    for answer in [&by_query, &by_accept] {
        assert_eq!(answer.status, 200);
        assert_eq!(
            answer.header("content-type"),
            Some("application/linkset+json")
        );
    }
    assert_eq!(by_query.body, by_accept.body);
    let linkset = by_query.json();
    let links = &linkset["linkset"][0];
    let public_url = format!("http://{}", web.http);
    let card = format!("{public_url}{card_path}");
    assert_eq!(links["anchor"], card.as_str());
    assert_eq!(
        links["https://gs1.org/voc/defaultLink"][0]["href"],
        card.as_str()
    );
    assert_eq!(
        links["https://gs1.org/voc/defaultLink"][0]["type"],
        "text/html"
    );
    assert_eq!(links["alternate"][0]["type"], "application/json");
    let certification = &links["https://gs1.org/voc/certificationInfo"][0];
    assert_eq!(certification["href"], format!("{card}/credential").as_str());
    assert_eq!(certification["type"], "application/cose");
    assert_eq!(
        links["https://gs1.org/voc/recallStatus"][0]["title"],
        recall.name.as_str()
    );

    let served = web.get(&format!("{card_path}/credential"), &[]).await;
    assert_eq!(served.status, 200);
    assert_eq!(served.header("content-type"), Some("application/cose"));
    assert_eq!(served.body, credential);

    let keys = web.get("/keys", &[]).await;
    assert_eq!(keys.status, 200);
    assert_eq!(
        keys.header("content-type"),
        Some("application/jwk-set+json")
    );
    let keys = keys.json();
    let own = &keys["keys"][0];
    assert_eq!(own["kid"], web.key.kid().to_string().as_str());
    assert_eq!(
        (own["kty"].as_str(), own["crv"].as_str()),
        (Some("OKP"), Some("Ed25519"))
    );
    assert_eq!(own["robotid_country"], "CN");

    // A robot without a stored credential has no credential link.
    web.registry.register(&[robot(5)]).await;
    let bare = web
        .get(&format!("/r/{}?linkType=linkset", robot(5).as_str()), &[])
        .await
        .json();
    assert!(
        bare["linkset"][0]
            .get("https://gs1.org/voc/certificationInfo")
            .is_none()
    );
    let missing = web
        .get(&format!("/r/{}/credential", robot(5).as_str()), &[])
        .await;
    assert_eq!(missing.status, 404);
}

async fn typed_forms_redirect_and_bad_codes_say_what_is_wrong(db: TestDb) {
    let mut web = spawn(db).await;
    let (id, _) = web.register(6).await;
    let typed = id.display().to_ascii_lowercase();
    let redirected = web.get(&format!("/r/{typed}?lang=de"), &[]).await;
    assert_eq!(redirected.status, 301);
    assert_eq!(
        redirected.header("location"),
        Some(format!("/r/{}?lang=de", id.as_str()).as_str())
    );
    let spaced = web
        .get(&format!("/r/{}", id.display().replace('-', "%20")), &[])
        .await;
    assert_eq!(
        spaced.header("location"),
        Some(format!("/r/{}", id.as_str()).as_str())
    );
    // The start page's form goes to the card.
    let form = web.get(&format!("/r?code={typed}&lang=zh"), &[]).await;
    assert_eq!(form.status, 303);
    assert_eq!(
        form.header("location"),
        Some(format!("/r/{}?lang=zh", id.as_str()).as_str())
    );

    // One character changed: the check character no longer matches.
    let mut mistyped = id.as_str().to_owned();
    mistyped.replace_range(
        20..21,
        if &id.as_str()[20..21] == "7" {
            "8"
        } else {
            "7"
        },
    );
    let answer = web.get(&format!("/r/{mistyped}"), &[JSON]).await;
    assert_eq!(answer.status, 400);
    let error = answer.json();
    assert_eq!(error["error"]["code"], 400);
    assert_eq!(error["error"]["status"], "INVALID_ARGUMENT");
    assert_eq!(error["error"]["details"][0]["reason"], "ROBOT_ID_MISTYPED");
    assert_eq!(error["error"]["details"][0]["domain"], "registry.robotid");
    assert_eq!(
        error["error"]["details"][1]["fieldViolations"][0]["field"],
        "robot_id"
    );
    let page = web.get(&format!("/r/{mistyped}"), &[]).await;
    assert_eq!(page.status, 400);
    assert!(
        page.text().contains("A character was mistyped"),
        "{}",
        page.text()
    );
    let german = web
        .get(&format!("/r/{mistyped}"), &[("Accept-Language", "de")])
        .await;
    assert!(
        german
            .text()
            .contains("Ein Zeichen wurde falsch eingegeben")
    );

    // A wrong character names its position and segment.
    let bad = web
        .get("/r/CN00_1HX00010000000000000001P", &[JSON])
        .await
        .json();
    let info = &bad["error"]["details"][0];
    assert_eq!(info["reason"], "ROBOT_ID_CHARACTER");
    assert_eq!(info["metadata"]["position"], "5");
    assert_eq!(info["metadata"]["segment"], "manufacturer");
    let page = web
        .get("/r/CN00_1HX00010000000000000001P", &[])
        .await
        .text();
    assert!(page.contains("Character 5"), "{page}");
    assert!(page.contains("the manufacturer (characters 3–6)"), "{page}");
    // A short segment between hyphens is named.
    let short = web
        .get("/r/CN-001-HX0001-0000000000000001P", &[JSON])
        .await
        .json();
    assert_eq!(
        short["error"]["details"][0]["reason"],
        "ROBOT_ID_SEGMENT_LENGTH"
    );
    assert_eq!(
        short["error"]["details"][0]["metadata"]["segment"],
        "manufacturer"
    );
    let length = web.get("/r/CN0001", &[JSON]).await.json();
    assert_eq!(length["error"]["details"][0]["reason"], "ROBOT_ID_LENGTH");

    // Well formed, not here: 404.
    let unknown = robot(999);
    let answer = web.card(&unknown, &[JSON]).await;
    assert_eq!(answer.status, 404);
    assert_eq!(
        answer.json()["error"]["details"][0]["reason"],
        "ROBOT_NOT_FOUND"
    );
    let page = web.card(&unknown, &[]).await;
    assert_eq!(page.status, 404);
    assert!(page.text().contains("No robot with this code"));
    // Nothing we can offer.
    assert_eq!(web.card(&id, &[("Accept", "image/png")]).await.status, 406);
}

async fn reading_cards_leaves_no_trace(db: TestDb) {
    let mut web = spawn(db).await;
    let (id, _) = web.register(7).await;
    // The regulator's own listings are logged too: leave them out.
    let entries = |log: Vec<pb::AccessLogEntry>| {
        log.into_iter()
            .filter(|entry| entry.action != "ListAccessLog")
            .count()
    };
    let before = entries(web.registry.access_log_of(&id).await);
    for headers in [
        vec![],
        vec![JSON],
        vec![("Accept", "application/linkset+json")],
        vec![
            ("User-Agent", "Mozilla/5.0 (Phone)"),
            ("Referer", "https://elsewhere.example/"),
        ],
    ] {
        let answer = web.card(&id, &headers).await;
        assert_eq!(answer.status, 200);
        assert!(answer.header("set-cookie").is_none());
    }
    web.get(&format!("/r/{}/credential", id.as_str()), &[])
        .await;
    // Public reads are not full reads: the access log has no entry for them.
    assert_eq!(entries(web.registry.access_log_of(&id).await), before);
    let dump = web.registry.dump().await;
    assert!(!dump.contains("Mozilla") && !dump.contains("elsewhere.example"));
}
