//! The HTML pages: the card, the page for a mistyped or unknown code, and
//! the start page with a form to type a code. Plain semantic HTML that
//! works without JavaScript (the GOV.UK Design System is the model): a
//! warning comes first, in words; the only script checks a label's
//! credential when the URL carries one, and the page says so without it.

use std::fmt::Write as _;

use robotid_domain::code::CodeError;

use super::assets::Assets;
use super::card::CardView;
use super::lang::{self, Lang, t};

/// Text for HTML: `&`, `<`, `>`, `"` and `'` escaped.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// What every page shows around its content.
pub struct Frame<'a> {
    pub lang: Lang,
    pub assets: &'a Assets,
    /// This registry's country code.
    pub country: &'a str,
    pub public_url: &'a str,
    /// The page's own path, for the language links.
    pub path: String,
    /// Extra `<head>` lines (already HTML).
    pub head: String,
}

/// A whole page: `title` (its `<title>`, with " – Robot ID") and `main`.
fn page(frame: &Frame<'_>, title: &str, main: &str) -> String {
    let lang = frame.lang;
    let mut switcher = String::new();
    for other in Lang::ALL {
        if other == lang {
            let _ = write!(
                switcher,
                r#"<li><span aria-current="true" lang="{tag}">{name}</span></li>"#,
                tag = other.tag(),
                name = other.name()
            );
        } else {
            let _ = write!(
                switcher,
                r#"<li><a href="{path}?lang={tag}" hreflang="{tag}" lang="{tag}">{name}</a></li>"#,
                path = escape(&frame.path),
                tag = other.tag(),
                name = other.name()
            );
        }
    }
    let privacy = t!(
        lang,
        "Privacy: this page sets no cookies, and the registry keeps no record of who looks at it — no address, no browser details, no log of scans.",
        "Datenschutz: Diese Seite setzt keine Cookies, und das Register speichert nicht, wer sie aufruft – keine Adresse, keine Browserdaten, kein Protokoll der Scans.",
        "隐私：本页不设置 Cookie，登记机构不记录查看者——不记录地址、浏览器信息，也不记录扫描。"
    );
    let skip = t!(
        lang,
        "Skip to main content",
        "Zum Hauptinhalt springen",
        "跳到主要内容"
    );
    let languages = t!(lang, "Language", "Sprache", "语言");
    format!(
        r##"<!doctype html>
<html lang="{tag}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>{title} – Robot ID</title>
<link rel="stylesheet" href="{css}">
{head}</head>
<body>
<a class="skip-link" href="#main">{skip}</a>
<header class="masthead">
<div class="width">
<a class="brand" href="/?lang={tag}">Robot ID</a>
<span class="masthead-registry">{country}</span>
<nav aria-label="{languages}"><ul class="languages">{switcher}</ul></nav>
</div>
</header>
<main id="main" class="width">
{main}
</main>
<footer class="footer width">
<p class="privacy">{privacy}</p>
</footer>
</body>
</html>
"##,
        tag = lang.tag(),
        title = escape(title),
        css = frame.assets.css_href(),
        head = frame.head,
        country = escape(&lang::country_name(lang, frame.country)),
    )
}

/// Whether the stored history verified when the card was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum History {
    Intact,
    Broken,
}

/// The card of one robot.
pub struct Card<'a> {
    pub view: &'a CardView,
    pub history: History,
    /// The credential is served at `…/credential`.
    pub has_credential: bool,
}

pub fn card(frame: &Frame<'_>, card: &Card<'_>) -> String {
    let lang = frame.lang;
    let view = card.view;
    let mut main = String::new();

    // Warnings first, in words, each with its own heading.
    if view.stolen {
        let _ = write!(
            main,
            r#"<div class="warning warning-stolen" role="alert" aria-labelledby="stolen-title">
<h2 class="warning-title" id="stolen-title"><span class="warning-icon" aria-hidden="true">!</span> {title}</h2>
<p>{text}</p>
</div>
"#,
            title = t!(
                lang,
                "STOLEN: reported stolen",
                "GESTOHLEN: als gestohlen gemeldet",
                "被盗：已报告被盗"
            ),
            text = t!(
                lang,
                "This robot has been reported stolen. Do not buy it. If you know where it is, tell the police.",
                "Dieser Roboter wurde als gestohlen gemeldet. Kaufen Sie ihn nicht. Wenn Sie wissen, wo er ist, informieren Sie die Polizei.",
                "该机器人已被报告被盗。请勿购买。如知其下落，请报警。"
            ),
        );
    }
    if !view.recalls.is_empty() {
        let mut items = String::new();
        for (i, recall) in view.recalls.iter().enumerate() {
            let reason = if recall.reason.is_empty() {
                String::new()
            } else {
                format!(
                    " — {}: {}",
                    t!(lang, "reason", "Grund", "原因"),
                    escape(&recall.reason)
                )
            };
            let name = if recall.name.is_empty() {
                t!(lang, "Recall", "Rückruf", "召回").to_owned()
            } else {
                escape(&recall.name)
            };
            let _ = write!(
                items,
                r#"<li id="recall-{n}"><strong>{name}</strong>{reason}</li>"#,
                n = i + 1
            );
        }
        let _ = write!(
            main,
            r#"<div class="warning warning-recall" role="alert" aria-labelledby="recall-title">
<h2 class="warning-title" id="recall-title"><span class="warning-icon" aria-hidden="true">!</span> {title}</h2>
<p>{text}</p>
<ul class="recalls">{items}</ul>
</div>
"#,
            title = t!(
                lang,
                "RECALLED: open recall",
                "RÜCKRUF: offener Rückruf",
                "召回：召回尚未完成"
            ),
            text = t!(
                lang,
                "The manufacturer has recalled this robot. It must not be sold or exported until the recall is remedied.",
                "Der Hersteller hat diesen Roboter zurückgerufen. Er darf nicht verkauft oder ausgeführt werden, bis der Rückruf erledigt ist.",
                "制造商已召回该机器人。在召回问题解决前，不得销售或出口。"
            ),
        );
    }
    if view.status == robotid_proto::common::v1::RobotStatus::Recycled {
        let _ = writeln!(
            main,
            r#"<div class="notice" role="status"><p><strong>{text}</strong></p></div>"#,
            text = t!(
                lang,
                "This robot has been recycled. Its code is retired: a robot that carries it must not be on sale.",
                "Dieser Roboter wurde recycelt. Sein Code ist stillgelegt: Ein Roboter mit diesem Code darf nicht verkauft werden.",
                "该机器人已回收，其编码已停用：带有此编码的机器人不得销售。"
            ),
        );
    }

    let _ = write!(
        main,
        r#"<h1><span class="caption">{caption}</span> {model}</h1>
<p class="code" aria-label="{code_label}"><code>{display}</code></p>
<dl class="summary">
"#,
        caption = t!(lang, "Robot", "Roboter", "机器人"),
        model = escape(&view.model_name),
        code_label = t!(lang, "Identity code", "Identitätscode", "身份编码"),
        display = escape(&view.display_id),
    );
    let row = |main: &mut String, key: &str, value: &str, class: &str| {
        let _ = writeln!(
            main,
            r#"<div class="summary-row{class}"><dt>{key}</dt><dd>{value}</dd></div>"#
        );
    };
    let status_class = match (view.stolen, view.recalls.is_empty()) {
        (true, _) | (_, false) => " summary-row-alert",
        _ => "",
    };
    let mut status = escape(lang::status(lang, view.status));
    if view.stolen {
        let _ = write!(
            status,
            "<br><strong>{}</strong>",
            t!(
                lang,
                "Reported stolen",
                "Als gestohlen gemeldet",
                "已报告被盗"
            )
        );
    }
    if !view.recalls.is_empty() {
        let _ = write!(
            status,
            "<br><strong>{}</strong>",
            t!(lang, "Open recall", "Offener Rückruf", "召回未完成")
        );
    }
    row(
        &mut main,
        t!(lang, "Status", "Status", "状态"),
        &status,
        status_class,
    );
    row(
        &mut main,
        t!(lang, "Manufacturer", "Hersteller", "制造商"),
        &named(&view.manufacturer_name, &view.manufacturer_code),
        "",
    );
    row(
        &mut main,
        t!(lang, "Model", "Modell", "型号"),
        &named(&view.model_name, &view.model_code),
        "",
    );
    row(
        &mut main,
        t!(lang, "Category", "Kategorie", "类别"),
        t!(
            lang,
            "Not recorded by this registry",
            "Von diesem Register nicht erfasst",
            "本登记机构未记录"
        ),
        "",
    );
    let produced = view
        .produced_at
        .and_then(|seconds| time::OffsetDateTime::from_unix_timestamp(seconds).ok())
        .map(|time| {
            let date = time.date();
            format!(
                "{:04}-{:02}-{:02}",
                date.year(),
                u8::from(date.month()),
                date.day()
            )
        })
        .unwrap_or_else(|| t!(lang, "Not recorded", "Nicht erfasst", "未记录").to_owned());
    row(
        &mut main,
        t!(lang, "Produced", "Hergestellt", "生产日期"),
        &produced,
        "",
    );
    let factory = if view.factory.is_empty() {
        t!(
            lang,
            "Not published on the public card",
            "Auf der öffentlichen Karte nicht angegeben",
            "公开卡片中不公布"
        )
        .to_owned()
    } else {
        escape(&view.factory)
    };
    row(&mut main, t!(lang, "Factory", "Werk", "工厂"), &factory, "");
    let mut location = escape(&lang::location(lang, view.jurisdiction, frame.country));
    if !view.origin_country.is_empty() {
        let _ = write!(
            location,
            "<br>{}",
            escape(&lang::imported_from(lang, &view.origin_country))
        );
    }
    row(
        &mut main,
        t!(lang, "Where it is", "Wo er ist", "所在地"),
        &location,
        "",
    );
    let history = match card.history {
        History::Intact => t!(
            lang,
            "Verified: the registry checked the robot's hash-chained history just now, and it is intact.",
            "Geprüft: Das Register hat den verketteten Verlauf des Roboters soeben geprüft; er ist unverändert.",
            "已校验：登记机构刚刚校验了该机器人的哈希链历史记录，记录完整。"
        ),
        History::Broken => t!(
            lang,
            "Not verified: the stored history does not check out. Ask the registry before you rely on this card.",
            "Nicht bestätigt: Der gespeicherte Verlauf lässt sich nicht bestätigen. Fragen Sie beim Register nach, bevor Sie sich auf diese Karte verlassen.",
            "未通过校验：存储的历史记录校验失败。在依赖本卡片前，请咨询登记机构。"
        ),
    };
    let history_class = match card.history {
        History::Intact => "",
        History::Broken => " summary-row-alert",
    };
    row(
        &mut main,
        t!(lang, "History", "Verlauf", "历史记录"),
        history,
        history_class,
    );
    row(
        &mut main,
        t!(lang, "Answered by", "Auskunft von", "答复机构"),
        &format!(
            "{}<br><span class=\"secondary\">{}</span>",
            escape(&lang::country_name(lang, frame.country)),
            escape(frame.public_url)
        ),
        "",
    );
    main.push_str("</dl>\n");
    let title = format!("{} {}", view.model_name, view.display_id);

    if card.has_credential {
        // Filled in by card.js when the URL carries a credential (`#c=…`,
        // which never reaches the server); hidden otherwise.
        let _ = write!(
            main,
            r#"<section class="credential" id="credential-check" hidden aria-live="polite"
 data-robot="{robot}" data-keys="/keys"
 data-checking="{checking}" data-verified="{verified}" data-failed="{failed}" data-unsupported="{unsupported}">
<h2>{heading}</h2>
<p class="credential-result" id="credential-result"></p>
</section>
"#,
            robot = escape(&view.robot_id),
            heading = t!(
                lang,
                "The label's signed credential",
                "Das signierte Zertifikat des Etiketts",
                "标签上的签名凭证"
            ),
            checking = t!(
                lang,
                "Checking the signature…",
                "Die Signatur wird geprüft …",
                "正在校验签名……"
            ),
            verified = t!(
                lang,
                "Signature verified: the registry's published key signed this robot's credential.",
                "Signatur bestätigt: Der veröffentlichte Schlüssel des Registers hat das Zertifikat dieses Roboters signiert.",
                "签名已验证：登记机构公布的密钥签署了该机器人的凭证。"
            ),
            failed = t!(
                lang,
                "Signature not verified: the credential on the label was changed, or no key this registry publishes signed it for this robot.",
                "Signatur nicht bestätigt: Das Zertifikat auf dem Etikett wurde verändert, oder kein vom Register veröffentlichter Schlüssel hat es für diesen Roboter signiert.",
                "签名未通过验证：标签上的凭证已被更改，或并非由本登记机构公布的密钥为该机器人签署。"
            ),
            unsupported = t!(
                lang,
                "This browser cannot check signatures; the card above is the registry's answer.",
                "Dieser Browser kann Signaturen nicht prüfen; die Karte oben ist die Auskunft des Registers.",
                "此浏览器无法校验签名；以上卡片即为登记机构的答复。"
            ),
        );
    }
    let _ = writeln!(
        main,
        r#"<p class="formats">{other}: <a href="/r/{id}?linkType=linkset" type="application/linkset+json">{links}</a>{credential}</p>"#,
        other = t!(lang, "For apps", "Für Apps", "供应用程序使用"),
        id = escape(&view.robot_id),
        links = t!(lang, "links (linkset)", "Links (Linkset)", "链接集"),
        credential = if card.has_credential {
            format!(
                r#" · <a href="/r/{id}/credential" type="application/cose">{label}</a>"#,
                id = escape(&view.robot_id),
                label = t!(
                    lang,
                    "signed credential",
                    "signiertes Zertifikat",
                    "签名凭证"
                )
            )
        } else {
            String::new()
        },
    );
    page(frame, &title, &main)
}

/// A name with its code beside it: `Hubei Humanoid Works (0001)`.
fn named(name: &str, code: &str) -> String {
    format!(
        "{} <span class=\"secondary\">({})</span>",
        escape(name),
        escape(code)
    )
}

/// A code that is not a code: what is wrong, and a form to try again.
pub fn mistyped(frame: &Frame<'_>, input: &str, error: &CodeError) -> String {
    let lang = frame.lang;
    let title = t!(
        lang,
        "This code is not valid",
        "Dieser Code ist ungültig",
        "该编码无效"
    );
    let main = format!(
        r#"<div class="error-summary" role="alert" aria-labelledby="error-title">
<h1 id="error-title">{title}</h1>
<p>{problem}</p>
<p>{entered}: <code>{input}</code></p>
</div>
{form}"#,
        problem = escape(&lang::code_error(lang, error)),
        entered = t!(lang, "You entered", "Ihre Eingabe", "您输入的是"),
        input = escape(input),
        form = form(lang, input),
    );
    page(frame, title, &main)
}

/// A well-formed code this registry does not know.
pub fn unknown(frame: &Frame<'_>, display: &str) -> String {
    let lang = frame.lang;
    let code = format!("<code>{}</code>", escape(display));
    let country = escape(&lang::country_name(lang, frame.country));
    let text = t!(
        lang,
        format!(
            "The code {code} is well formed, but the registry of {country} has no robot with it. A robot made elsewhere is on its home country's registry."
        ),
        format!(
            "Der Code {code} ist gültig aufgebaut, aber das Register von {country} kennt keinen Roboter mit diesem Code. Ein anderswo hergestellter Roboter steht im Register seines Herkunftslandes."
        ),
        format!(
            "编码 {code} 格式正确，但{country}登记机构没有此编码的机器人。在其他国家生产的机器人登记在其本国的登记机构。"
        )
    );
    let title = t!(
        lang,
        "No robot with this code",
        "Kein Roboter mit diesem Code",
        "没有此编码的机器人"
    );
    with_form(frame, title, &text, display)
}

/// The start page: type a code.
pub fn start(frame: &Frame<'_>) -> String {
    let lang = frame.lang;
    let title = t!(
        lang,
        "Look up a robot",
        "Einen Roboter nachschlagen",
        "查询机器人"
    );
    let text = t!(
        lang,
        "Scan the QR code on the robot's label, or type the code printed under it.",
        "Scannen Sie den QR-Code auf dem Etikett des Roboters oder geben Sie den darunter gedruckten Code ein.",
        "扫描机器人标签上的二维码，或输入印在其下方的编码。"
    );
    with_form(frame, title, text, "")
}

/// A heading, a paragraph (HTML) and the form to type a code.
fn with_form(frame: &Frame<'_>, title: &str, text: &str, value: &str) -> String {
    let main = format!(
        "<h1>{title}</h1>\n<p>{text}</p>\n{form}",
        form = form(frame.lang, value)
    );
    page(frame, title, &main)
}

fn form(lang: Lang, value: &str) -> String {
    format!(
        r#"<form class="lookup" action="/r" method="get">
<input type="hidden" name="lang" value="{tag}">
<label for="code">{label}</label>
<p class="hint" id="code-hint">{hint}</p>
<input class="input" id="code" name="code" type="text" value="{value}" aria-describedby="code-hint" autocomplete="off" autocapitalize="characters" spellcheck="false">
<button class="button" type="submit">{button}</button>
</form>
"#,
        tag = lang.tag(),
        label = t!(lang, "Robot code", "Robotercode", "机器人编码"),
        hint = t!(
            lang,
            "29 characters, for example CN-0001-HX0001-0000000000000001P",
            "29 Zeichen, zum Beispiel CN-0001-HX0001-0000000000000001P",
            "29 个字符，例如 CN-0001-HX0001-0000000000000001P"
        ),
        value = escape(value),
        button = t!(lang, "Look up", "Nachschlagen", "查询"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped() {
        assert_eq!(
            escape(r#"<script>"a" & 'b'</script>"#),
            "&lt;script&gt;&quot;a&quot; &amp; &#39;b&#39;&lt;/script&gt;"
        );
    }
}
