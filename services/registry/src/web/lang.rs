//! The card's languages: English (the default), German and Chinese, chosen
//! from `?lang=` (a link on the page) or else `Accept-Language`; and every
//! text the pages show, in each of them.

use robotid_domain::code::{CodeError, Segment};
use robotid_proto::common::v1::{Jurisdiction, RobotStatus};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    En,
    De,
    Zh,
}

impl Lang {
    pub const ALL: [Lang; 3] = [Lang::En, Lang::De, Lang::Zh];

    /// The BCP 47 tag, for `lang=` and `Content-Language`.
    pub fn tag(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::De => "de",
            Lang::Zh => "zh",
        }
    }

    /// The language's own name, for the switcher.
    pub fn name(self) -> &'static str {
        match self {
            Lang::En => "English",
            Lang::De => "Deutsch",
            Lang::Zh => "中文",
        }
    }

    fn from_tag(tag: &str) -> Option<Lang> {
        let primary = tag.split(['-', '_']).next()?.trim();
        Lang::ALL
            .into_iter()
            .find(|lang| primary.eq_ignore_ascii_case(lang.tag()))
    }

    /// `?lang=` wins; else the best of `Accept-Language` that we have
    /// (by q-value, then order); else English.
    pub fn choose(query: Option<&str>, accept_language: Option<&str>) -> Lang {
        if let Some(lang) = query.and_then(Lang::from_tag) {
            return lang;
        }
        let mut best: Option<(f32, Lang)> = None;
        for item in accept_language.unwrap_or_default().split(',') {
            let mut parts = item.split(';');
            let tag = parts.next().unwrap_or_default().trim();
            let q = parts
                .filter_map(|p| p.trim().strip_prefix("q="))
                .find_map(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            if let Some(lang) = Lang::from_tag(tag)
                && q > 0.0
                && best.is_none_or(|(best_q, _)| q > best_q)
            {
                best = Some((q, lang));
            }
        }
        best.map(|(_, lang)| lang).unwrap_or(Lang::En)
    }
}

/// Picks the text of `lang` from an (en, de, zh) triple.
macro_rules! t {
    ($lang:expr, $en:expr, $de:expr, $zh:expr $(,)?) => {
        match $lang {
            Lang::En => $en,
            Lang::De => $de,
            Lang::Zh => $zh,
        }
    };
}
pub(crate) use t;

pub fn country_name(lang: Lang, code: &str) -> String {
    let name = match code {
        "CN" => t!(lang, "China", "China", "中国"),
        "DE" => t!(lang, "Germany", "Deutschland", "德国"),
        _ => return code.to_owned(),
    };
    format!("{name} ({code})")
}

pub fn status(lang: Lang, status: RobotStatus) -> &'static str {
    match status {
        RobotStatus::Registered => t!(
            lang,
            "Registered: in the factory, not yet on sale",
            "Registriert: im Werk, noch nicht im Handel",
            "已登记：在工厂，尚未上市"
        ),
        RobotStatus::InMarket => t!(
            lang,
            "On the market: released for sale",
            "Im Handel: zum Verkauf freigegeben",
            "已上市：已获准销售"
        ),
        RobotStatus::InService => t!(
            lang,
            "In service: sold or deployed",
            "In Betrieb: verkauft oder eingesetzt",
            "使用中：已售出或已部署"
        ),
        RobotStatus::Decommissioned => t!(
            lang,
            "Decommissioned: taken out of service",
            "Stillgelegt: außer Betrieb genommen",
            "已停用：已退出使用"
        ),
        RobotStatus::Recycled => t!(
            lang,
            "Recycled: scrapped, must not be resold",
            "Recycelt: verschrottet, darf nicht weiterverkauft werden",
            "已回收：已报废，不得转售"
        ),
        RobotStatus::Unspecified => t!(lang, "Unknown", "Unbekannt", "未知"),
    }
}

/// Where the robot is, as the public tier states it.
pub fn location(lang: Lang, jurisdiction: Jurisdiction, home: &str) -> String {
    let country = country_name(lang, home);
    match jurisdiction {
        Jurisdiction::Domestic => t!(
            lang,
            format!("In {country}, registered here"),
            format!("In {country}, hier registriert"),
            format!("在{country}，在本登记机构登记")
        ),
        Jurisdiction::ExportCleared => t!(
            lang,
            format!("Cleared for export; still in {country}"),
            format!("Zur Ausfuhr freigegeben; noch in {country}"),
            format!("已获准出口；仍在{country}")
        ),
        Jurisdiction::Abroad => t!(
            lang,
            format!("Abroad: exported from {country}"),
            format!("Im Ausland: aus {country} ausgeführt"),
            format!("在境外：已从{country}出口")
        ),
        Jurisdiction::Unspecified => t!(
            lang,
            "Not published by this registry",
            "Von diesem Register nicht veröffentlicht",
            "本登记机构未公布"
        )
        .to_owned(),
    }
}

pub fn imported_from(lang: Lang, origin: &str) -> String {
    let country = country_name(lang, origin);
    t!(
        lang,
        format!("Imported from {country}"),
        format!("Eingeführt aus {country}"),
        format!("从{country}进口")
    )
}

fn segment(lang: Lang, segment: Segment) -> &'static str {
    match segment {
        Segment::Country => t!(lang, "country", "Land", "国家"),
        Segment::Manufacturer => t!(lang, "manufacturer", "Hersteller", "制造商"),
        Segment::Model => t!(lang, "product model", "Produktmodell", "产品型号"),
        Segment::Serial => t!(lang, "serial number", "Seriennummer", "序列号"),
    }
}

fn takes(lang: Lang, segment: Segment) -> &'static str {
    match segment {
        Segment::Country => t!(lang, "letters A–Z", "Buchstaben A–Z", "字母 A–Z"),
        _ => t!(
            lang,
            "digits 0–9 and letters A–Z",
            "Ziffern 0–9 und Buchstaben A–Z",
            "数字 0–9 和字母 A–Z"
        ),
    }
}

/// What is wrong with a typed code, for the person who typed it.
pub fn code_error(lang: Lang, error: &CodeError) -> String {
    match error {
        CodeError::Empty => t!(
            lang,
            "No code was given.",
            "Es wurde kein Code angegeben.",
            "未输入编码。"
        )
        .to_owned(),
        CodeError::Length { found } => t!(
            lang,
            format!(
                "A robot's code has 29 characters, not counting hyphens and spaces; this one has {found}."
            ),
            format!(
                "Ein Robotercode hat 29 Zeichen, Bindestriche und Leerzeichen nicht mitgezählt; dieser hat {found}."
            ),
            format!("机器人编码有 29 个字符（不含连字符和空格）；此编码有 {found} 个。")
        ),
        CodeError::Character {
            segment: part,
            position,
            found,
        } => {
            let range = part.position_range();
            let (first, last) = (range.start + 1, range.end);
            let (name, takes) = (segment(lang, *part), takes(lang, *part));
            t!(
                lang,
                format!(
                    "Character {position} (“{found}”) cannot be there: the {name} (characters {first}–{last}) takes {takes}."
                ),
                format!(
                    "Zeichen {position} („{found}“) ist dort nicht möglich: {name} (Zeichen {first}–{last}) besteht aus {takes}."
                ),
                format!(
                    "第 {position} 个字符（“{found}”）无效：{name}（第 {first}–{last} 个字符）只能使用{takes}。"
                )
            )
        }
        CodeError::Separator { position } => t!(
            lang,
            format!(
                "The hyphen or space at position {position} is out of place: one may stand only between the four parts, as in CC-MMMM-PPPPPP-SSSSSSSSSSSSSSSSS."
            ),
            format!(
                "Der Bindestrich oder das Leerzeichen an Stelle {position} steht falsch: Er darf nur zwischen den vier Teilen stehen, wie in CC-MMMM-PPPPPP-SSSSSSSSSSSSSSSSS."
            ),
            format!(
                "第 {position} 位的连字符或空格位置不对：只能出现在四个部分之间，例如 CC-MMMM-PPPPPP-SSSSSSSSSSSSSSSSS。"
            )
        ),
        CodeError::CheckCharacter { .. } => t!(
            lang,
            "A character was mistyped: the last character (the check character) does not match the others. Compare the code with the label once more.",
            "Ein Zeichen wurde falsch eingegeben: Das letzte Zeichen (das Prüfzeichen) passt nicht zu den anderen. Vergleichen Sie den Code noch einmal mit dem Etikett.",
            "有字符输入错误：最后一个字符（校验字符）与其他字符不符。请再次与标签核对编码。"
        )
        .to_owned(),
        CodeError::SegmentLength {
            segment: part,
            expected,
            found,
        } => {
            let name = segment(lang, *part);
            t!(
                lang,
                format!("The {name} part has {found} characters; it takes {expected}."),
                format!("Der Teil {name} hat {found} Zeichen; er braucht {expected}."),
                format!("{name}部分有 {found} 个字符；应为 {expected} 个。")
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_language_follows_the_query_then_accept_language_then_english() {
        assert_eq!(Lang::choose(None, None), Lang::En);
        assert_eq!(
            Lang::choose(None, Some("de-DE,de;q=0.9,en;q=0.8")),
            Lang::De
        );
        assert_eq!(
            Lang::choose(None, Some("fr-FR, zh-CN;q=0.5, de;q=0.4")),
            Lang::Zh
        );
        assert_eq!(Lang::choose(None, Some("en;q=0.2, de;q=0.9")), Lang::De);
        assert_eq!(Lang::choose(None, Some("fr, it")), Lang::En);
        assert_eq!(Lang::choose(None, Some("de;q=0")), Lang::En);
        assert_eq!(Lang::choose(Some("zh"), Some("de")), Lang::Zh);
        assert_eq!(Lang::choose(Some("xx"), Some("de")), Lang::De);
    }
}
