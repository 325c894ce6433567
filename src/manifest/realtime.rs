//! The manifest's `realtime:` section (ordered rules that choose what Apple's realtime
//! request is answered with) and the app fields it needs (`app.appAppleId`,
//! `app.offerSigning`): the model, and their decoding as a child of the decoder so that
//! it reuses its located helpers.
//!
//! A rule that does not decode is left out and marked broken; the semantic checks of the
//! other rules then wait for it (their order is what they mean).

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};

use super::{Cx, Fields, pointer};
use crate::manifest::Credentials;
use crate::manifest::yaml::{Node, NodeKind};
use crate::realtime::RuleAnswer;

/// One realtime rule: which requests it matches, and what it answers with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schemars(extend("oneOf" = answer_one_of()))]
pub struct RealtimeRule {
    /// A product id, or `*` for every product.
    #[schemars(length(min = 1))]
    pub product: String,
    /// Only these of the app's locales (default: all).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "rule_locales_schema")]
    pub locales: Option<Vec<String>>,
    /// A deterministic split: this share of customers (hashed on the original
    /// transaction id); consecutive rules with the same product and locales share the
    /// 100 buckets in order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 100))]
    pub percent: Option<u8>,
    /// Answer with this text message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Answer with this promotional-offer message and subscription offer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub promotional_offer: Option<PromotionalOfferAnswer>,
    /// Answer with this switch-plan message proposing another product.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alternate_product: Option<AlternateProductAnswer>,
    /// The control arm of a split (`control: true`, with `percent`): answer nothing
    /// (204), so Apple shows the default message; `retainctl report` compares the other
    /// arms with it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("const" = true))]
    pub control: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PromotionalOfferAnswer {
    /// Key of a `kind: promotional-offer` message.
    pub message: String,
    /// The subscription offer's identifier in App Store Connect.
    #[schemars(length(min = 1))]
    pub offer_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AlternateProductAnswer {
    /// Key of a `kind: switch-plan` message.
    pub message: String,
    /// The product proposed instead.
    #[schemars(length(min = 1))]
    pub product_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub billing_plan_type: Option<BillingPlanType>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum BillingPlanType {
    #[serde(rename = "BILLED_UPFRONT")]
    BilledUpfront,
    #[serde(rename = "MONTHLY")]
    Monthly,
}

impl BillingPlanType {
    pub const ALL: [BillingPlanType; 2] = [Self::BilledUpfront, Self::Monthly];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::BilledUpfront => "BILLED_UPFRONT",
            Self::Monthly => "MONTHLY",
        }
    }
}

/// The keys that say what a rule answers with; a rule has exactly one.
pub const ANSWER_KEYS: [&str; 4] = ["message", "promotionalOffer", "alternateProduct", "control"];

impl RealtimeRule {
    /// What the rule answers with (`None` only for a rule built without one, which the
    /// decoder never yields).
    pub fn answer(&self) -> Option<RuleAnswer> {
        if self.control == Some(true) {
            return Some(RuleAnswer::Control);
        }
        if let Some(key) = &self.message {
            return Some(RuleAnswer::Message(key.clone()));
        }
        if let Some(o) = &self.promotional_offer {
            return Some(RuleAnswer::PromotionalOffer {
                message: o.message.clone(),
                offer_id: o.offer_id.clone(),
            });
        }
        self.alternate_product
            .as_ref()
            .map(|a| RuleAnswer::AlternateProduct {
                message: a.message.clone(),
                product_id: a.product_id.clone(),
                billing_plan_type: a.billing_plan_type.map(|b| b.as_str().to_string()),
            })
    }

    /// The message key it answers with, and the key it is written under.
    pub fn message_key(&self) -> Option<(&str, &'static str)> {
        if let Some(key) = &self.message {
            return Some((key, "message"));
        }
        if let Some(o) = &self.promotional_offer {
            return Some((&o.message, "promotionalOffer"));
        }
        self.alternate_product
            .as_ref()
            .map(|a| (a.message.as_str(), "alternateProduct"))
    }
}

fn answer_one_of() -> serde_json::Value {
    serde_json::json!(
        ANSWER_KEYS
            .iter()
            .map(|k| serde_json::json!({ "required": [k] }))
            .collect::<Vec<_>>()
    )
}

fn rule_locales_schema(generator: &mut SchemaGenerator) -> Schema {
    let item = generator.subschema_for::<super::super::LocaleCode>();
    json_schema!({
        "description": "Only these of the app's locales (default: all).",
        "type": "array",
        "items": item,
        "minItems": 1,
        "uniqueItems": true,
    })
}

/// The realtime fields of `app`, decoded.
pub(super) struct AppRealtimeFields {
    pub app_apple_id: Option<i64>,
    pub offer_signing: Option<Credentials>,
}

impl Cx<'_, '_> {
    /// `app.appAppleId` and `app.offerSigning`.
    pub(super) fn app_realtime(&mut self, f: &Fields<'_>) -> AppRealtimeFields {
        let app_apple_id = f.get("appAppleId").and_then(|n| {
            let id = match n.as_str().map(str::parse::<i64>) {
                Some(Ok(id)) if id > 0 && matches!(n.kind, NodeKind::Scalar { .. }) => Some(id),
                _ => {
                    self.broken(
                        n.span,
                        format!(
                            "app.appAppleId must be the app's Apple ID (a whole number), found {}",
                            describe_value(n)
                        ),
                        "copy it from App Store Connect (App Information → Apple ID), e.g. 1234567890",
                    );
                    None
                }
            };
            if id.is_none() {
                self.mark("/app/appAppleId");
            }
            id
        });
        let offer_signing = f.get("offerSigning").and_then(|n| {
            let c = self.credential_names(
                n,
                "/app/offerSigning",
                "app.offerSigning",
                Some(
                    "name the environment variables that hold the subscription offer key: `{ keyId: OFFER_KEY_ID, issuerId: OFFER_ISSUER_ID, privateKeyFile: OFFER_KEY_PATH }` (or `privateKey:` for a variable holding the PEM itself)",
                ),
            );
            if c.is_none() {
                self.mark("/app/offerSigning");
            }
            c
        });
        AppRealtimeFields {
            app_apple_id,
            offer_signing,
        }
    }

    /// A mapping of environment variable names shaped like `app.credentials`. With
    /// `required: Some(hint)` all of keyId, issuerId and privateKey or privateKeyFile must
    /// be there (an error with `hint` names what is missing), as `offerSigning` needs.
    pub(super) fn credential_names(
        &mut self,
        node: &Node,
        ptr: &str,
        what: &str,
        required: Option<&str>,
    ) -> Option<Credentials> {
        let known = ["keyId", "issuerId", "privateKey", "privateKeyFile"];
        let f = self.fields(node, ptr, &format!("`{what}`"), &known, &[])?;
        let mut ok = true;
        let mut var = |key: &str| match f.get(key) {
            Some(n) => {
                let v = self.env_var_name(n, &format!("{what}.{key}"));
                ok &= v.is_some();
                v
            }
            None => None,
        };
        let c = Credentials {
            key_id: var("keyId"),
            issuer_id: var("issuerId"),
            private_key: var("privateKey"),
            private_key_file: var("privateKeyFile"),
        };
        let Some(hint) = required else {
            return ok.then_some(c);
        };
        let mut missing = vec![];
        for (key, present) in [
            ("keyId", f.contains_key("keyId")),
            ("issuerId", f.contains_key("issuerId")),
            (
                "privateKey or privateKeyFile",
                f.contains_key("privateKey") || f.contains_key("privateKeyFile"),
            ),
        ] {
            if !present {
                missing.push(key);
            }
        }
        if !missing.is_empty() {
            let segments: Vec<&str> = ptr.trim_start_matches('/').split('/').collect();
            self.broken(
                self.locs.key(&segments),
                format!("{what} lacks {}", missing.join(", ")),
                hint,
            );
            ok = false;
        }
        ok.then_some(c)
    }

    /// The NAME of an environment variable (`^[A-Z_][A-Z0-9_]*$`), never a value: a
    /// secret pasted here would be copied into the snapshot. The value is never echoed.
    pub(super) fn env_var_name(&mut self, node: &Node, what: &str) -> Option<String> {
        let name = self.string(node, what)?;
        let mut chars = name.chars();
        let valid = chars
            .next()
            .is_some_and(|c| c.is_ascii_uppercase() || c == '_')
            && chars.all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
        if valid {
            return Some(name);
        }
        let found = if name.trim().is_empty() {
            "an empty name"
        } else {
            "something else (not shown: it may be a secret)"
        };
        self.broken(
            node.span,
            format!(
                "{what} must be the NAME of an environment variable (A–Z, 0–9, _), found {found}"
            ),
            "write the variable's name, e.g. `OFFER_KEY_ID`, and set the variable where retainctl runs; never the key, id or PEM itself",
        );
        None
    }

    /// The `realtime:` list, with every rule that decoded.
    pub(super) fn realtime(&mut self, node: &Node) -> Vec<RealtimeRule> {
        let items = match &node.kind {
            NodeKind::Sequence(items) => items,
            _ if node.is_null() => return vec![],
            _ => {
                self.broken(
                    self.locs.get("/realtime").key,
                    format!("`realtime` must be a list of rules, found {}", node.describe()),
                    "write each rule as `- product: …` followed by `message: KEY` (or `promotionalOffer:` / `alternateProduct:`)",
                );
                self.mark("/realtime");
                return vec![];
            }
        };
        let mut out = vec![];
        for (i, item) in items.iter().enumerate() {
            let ptr = pointer(&["realtime", &i.to_string()]);
            // A block mapping's own position is past its first key: point at that key.
            let at = match &item.kind {
                NodeKind::Mapping(entries) if !entries.is_empty() => entries[0].0.span,
                _ => item.span,
            };
            self.locs.insert(ptr.clone(), at, item.span);
            match self.rule(item, &ptr, i) {
                Some(rule) => out.push(rule),
                None => self.mark(&ptr),
            }
        }
        out
    }

    fn rule(&mut self, node: &Node, ptr: &str, i: usize) -> Option<RealtimeRule> {
        let what = format!("realtime rule {}", i + 1);
        let known = [
            "product",
            "locales",
            "percent",
            "message",
            "promotionalOffer",
            "alternateProduct",
            "control",
        ];
        let f = self.fields(node, ptr, &what, &known, &["product"])?;
        let present: Vec<&str> = ANSWER_KEYS
            .iter()
            .copied()
            .filter(|k| f.contains_key(k))
            .collect();
        let mut ok = true;
        match present.as_slice() {
            [_] => {}
            [] => {
                self.broken(
                    self.locs.get(ptr).key,
                    format!("{what} does not say what to answer with"),
                    "add one of `message: KEY`, `promotionalOffer: { message: KEY, offerId: ID }`, `alternateProduct: { message: KEY, productId: P }`, or `control: true` in a split",
                );
                ok = false;
            }
            [first, rest @ ..] => {
                self.broken(
                    self.locs.key(&["realtime", &i.to_string(), rest[0]]),
                    format!("{what} has both `{first}` and `{}`", rest[0]),
                    "a rule answers with exactly one of message, promotionalOffer, alternateProduct, control; split it into two rules",
                );
                ok = false;
            }
        }
        let product = f
            .get("product")
            .and_then(|n| self.string(n, &format!("{what} product")));
        let locales = match f.get("locales") {
            Some(n) => {
                let l = self.string_list(n, &format!("{ptr}/locales"), &format!("{what} locales"));
                ok &= l.is_some();
                l
            }
            None => None,
        };
        let percent = match f.get("percent") {
            Some(n) => match n.as_str().map(str::parse::<u8>) {
                Some(Ok(p))
                    if (1..=100).contains(&p)
                        && matches!(n.kind, NodeKind::Scalar { plain: true, .. }) =>
                {
                    Some(p)
                }
                _ => {
                    self.broken(
                        n.span,
                        format!(
                            "{what} percent must be a whole number from 1 to 100, found {}",
                            describe_value(n)
                        ),
                        "write e.g. `percent: 50`; leave it out for all customers",
                    );
                    ok = false;
                    None
                }
            },
            None => None,
        };
        let message = match f.get("message") {
            Some(n) => {
                let m = self.string(n, &format!("{what} message"));
                ok &= m.is_some();
                m
            }
            None => None,
        };
        let promotional_offer = match f.get("promotionalOffer") {
            Some(n) => {
                let p = self.promotional_offer(n, &format!("{ptr}/promotionalOffer"), &what);
                ok &= p.is_some();
                p
            }
            None => None,
        };
        let alternate_product = match f.get("alternateProduct") {
            Some(n) => {
                let a = self.alternate_product(n, &format!("{ptr}/alternateProduct"), &what);
                ok &= a.is_some();
                a
            }
            None => None,
        };
        let control = match f.get("control") {
            Some(n)
                if n.as_str() == Some("true")
                    && matches!(n.kind, NodeKind::Scalar { plain: true, .. }) =>
            {
                if percent.is_none() {
                    self.broken(
                        n.span,
                        format!("{what} is a control arm without `percent`"),
                        "a control arm is one arm of a split: give it `percent: N` beside the rules it is compared with",
                    );
                    ok = false;
                }
                Some(true)
            }
            Some(n) => {
                self.broken(
                    n.span,
                    format!("{what} control must be `true`, found {}", describe_value(n)),
                    "write `control: true`, or leave it out",
                );
                ok = false;
                None
            }
            None => None,
        };
        if !ok {
            return None;
        }
        Some(RealtimeRule {
            product: product?,
            locales,
            percent,
            message,
            promotional_offer,
            alternate_product,
            control,
        })
    }

    fn promotional_offer(
        &mut self,
        node: &Node,
        ptr: &str,
        what: &str,
    ) -> Option<PromotionalOfferAnswer> {
        let known = ["message", "offerId"];
        let f = self.fields(
            node,
            ptr,
            &format!("`promotionalOffer` of {what}"),
            &known,
            &known,
        )?;
        let message = f
            .get("message")
            .and_then(|n| self.string(n, "promotionalOffer message"));
        let offer_id = f
            .get("offerId")
            .and_then(|n| self.string(n, "promotionalOffer offerId"));
        Some(PromotionalOfferAnswer {
            message: message?,
            offer_id: offer_id?,
        })
    }

    fn alternate_product(
        &mut self,
        node: &Node,
        ptr: &str,
        what: &str,
    ) -> Option<AlternateProductAnswer> {
        let known = ["message", "productId", "billingPlanType"];
        let f = self.fields(
            node,
            ptr,
            &format!("`alternateProduct` of {what}"),
            &known,
            &["message", "productId"],
        )?;
        let message = f
            .get("message")
            .and_then(|n| self.string(n, "alternateProduct message"));
        let product_id = f
            .get("productId")
            .and_then(|n| self.string(n, "alternateProduct productId"));
        let plans: Vec<(&'static str, BillingPlanType)> = BillingPlanType::ALL
            .iter()
            .map(|b| (b.as_str(), *b))
            .collect();
        let billing_plan_type = match f.get("billingPlanType") {
            Some(n) => Some(self.choice(n, "alternateProduct billingPlanType", &plans)?),
            None => None,
        };
        Some(AlternateProductAnswer {
            message: message?,
            product_id: product_id?,
            billing_plan_type,
        })
    }
}

fn describe_value(n: &Node) -> String {
    match n.as_str() {
        Some(text) if matches!(n.kind, NodeKind::Scalar { plain: false, .. }) => {
            format!("the text `\"{text}\"`")
        }
        Some(text) if matches!(n.kind, NodeKind::Scalar { .. }) => format!("`{text}`"),
        _ => n.describe().to_string(),
    }
}
